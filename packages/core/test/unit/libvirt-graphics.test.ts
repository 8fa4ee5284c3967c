import { describe, expect, it } from 'vitest';
import { screenFromDomainXml } from '../../src/drivers/libvirt/graphics.js';

const domain = (graphics: string) => `<domain type='qemu'><name>x</name><devices><video/>${graphics}</devices></domain>`;

describe("a libvirt domain's screen, from its live XML", () => {
  it("is the unix socket libvirt made for <listen type='socket'/>", () => {
    const xml = domain(
      "<graphics type='vnc' socket='/run/libvirt/qemu/vnc-1.sock'><listen type='socket' socket='/run/libvirt/qemu/vnc-1.sock'/></graphics>",
    );
    expect(screenFromDomainXml(xml)).toEqual({ path: '/run/libvirt/qemu/vnc-1.sock' });
  });

  it('is the TCP port libvirt chose, on loopback where it listens everywhere', () => {
    expect(
      screenFromDomainXml(
        domain("<graphics type='vnc' port='5901' autoport='yes' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>"),
      ),
    ).toEqual({ host: '127.0.0.1', port: 5901 });
    expect(screenFromDomainXml(domain("<graphics type='vnc' port='5902' listen='127.0.0.1'/>"))).toEqual({ host: '127.0.0.1', port: 5902 });
    expect(screenFromDomainXml(domain("<graphics type='vnc' port='5903'><listen type='address' address='::'/></graphics>"))).toEqual({
      host: '::1',
      port: 5903,
    });
  });

  it('is none for an inactive definition, a port not given yet, or no VNC graphics', () => {
    expect(screenFromDomainXml(domain("<graphics type='vnc'><listen type='socket'/></graphics>"))).toBeNull();
    expect(screenFromDomainXml(domain("<graphics type='vnc' port='-1' autoport='yes'/>"))).toBeNull();
    expect(screenFromDomainXml(domain("<graphics type='spice' port='5900'/>"))).toBeNull();
    expect(screenFromDomainXml(domain(''))).toBeNull();
  });

  it("is not followed elsewhere: another host's address, or a socket outside libvirt's directories", () => {
    expect(screenFromDomainXml(domain("<graphics type='vnc' port='5904' listen='10.0.0.5'/>"))).toBeNull();
    expect(
      screenFromDomainXml(domain("<graphics type='vnc' port='5905'><listen type='address' address='169.254.169.254'/></graphics>")),
    ).toBeNull();
    expect(screenFromDomainXml(domain("<graphics type='vnc' socket='/var/run/docker.sock'/>"))).toBeNull();
    expect(screenFromDomainXml(domain("<graphics type='vnc' socket='/run/libvirt/../docker.sock'/>"))).toBeNull();
  });
});
