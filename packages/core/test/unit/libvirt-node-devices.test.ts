import { describe, expect, it } from 'vitest';
import { gpuFromNodeDevice } from '../../src/drivers/libvirt/node-devices.js';

// GPUs from libvirt's node device XML, as `virsh nodedev-dumpxml` prints it.

const device = (cls: string, extra = '') => `<device>
  <name>pci_0000_41_00_0</name>
  <path>/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.0</path>
  <parent>pci_0000_40_01_1</parent>
  <driver><name>vfio-pci</name></driver>
  <capability type='pci'>
    <class>${cls}</class>
    <domain>0</domain>
    <bus>65</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x2684'>AD102 [GeForce RTX 4090]</product>
    <vendor id='0x10de'>NVIDIA Corporation</vendor>
    <iommuGroup number='27'><address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/></iommuGroup>
    ${extra}
  </capability>
</device>`;

describe('gpuFromNodeDevice', () => {
  it('reads a GPU: its address, ids, driver, IOMMU group and NUMA node', () => {
    expect(gpuFromNodeDevice(device('0x030000', "<numa node='1'/>"))).toEqual({
      address: '0000:41:00.0',
      vendor_id: '0x10de',
      device_id: '0x2684',
      vendor: 'NVIDIA',
      driver: 'vfio-pci',
      iommu_group: 27,
      numa_node: 1,
    });
  });

  it('takes 3D controllers too, and no NUMA node where libvirt says -1', () => {
    expect(gpuFromNodeDevice(device('0x030200', "<numa node='-1'/>"))).toMatchObject({ numa_node: null });
  });

  it('passes over other devices and XML that is not a PCI device', () => {
    expect(gpuFromNodeDevice(device('0x020000'))).toBeNull();
    expect(gpuFromNodeDevice("<device><name>net_eth0</name><capability type='net'/></device>")).toBeNull();
    expect(gpuFromNodeDevice('')).toBeNull();
    expect(gpuFromNodeDevice('<device><capability type="pci"><class>0x030000</class></capability></device>')).toBeNull();
  });
});
