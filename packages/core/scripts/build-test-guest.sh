#!/usr/bin/env bash
# Builds a tiny bootable guest for the QEMU tests from Debian packages: the cloud kernel and an
# initramfs of busybox-static whose init loads button.ko and evdev.ko and runs acpid, so an ACPI
# power-off powers it off. Cached outside git; prints the cache directory.
#   HANGAR_TEST_GUEST_DIR   where to keep it (default ~/.cache/hangar/test-guest)
set -euo pipefail

out=${HANGAR_TEST_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hangar/test-guest}
# A change to this script invalidates the cache.
stamp=$(sha256sum "$0" | cut -c1-16)
if [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)

trap 'rm -rf "$work"' EXIT
cd "$work"

kernel_pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -1)
[ -n "$kernel_pkg" ] || { echo "no linux-image-6.1.0-*-cloud-amd64 in apt's lists (apt-get update?)" >&2; exit 1; }
# As root, apt would hand the download to the _apt user, who cannot write here.
apt-get -o APT::Sandbox::User=root download "$kernel_pkg" busybox-static >/dev/null
dpkg-deb -x linux-image-*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
version=${kernel_pkg#linux-image-}

root=initramfs
mkdir -p $root/bin $root/proc $root/sys $root/dev $root/etc/acpi/PWRF $root/lib/modules
cp busybox/bin/busybox $root/bin/busybox
cp kernel/lib/modules/"$version"/kernel/drivers/input/evdev.ko $root/lib/modules/
cp kernel/lib/modules/"$version"/kernel/drivers/acpi/button.ko $root/lib/modules/

cat > $root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /lib/modules/evdev.ko
insmod /lib/modules/button.ko
mkdir -p /var/log /var/run
acpid -c /etc/acpi
echo "hangar-test-guest: up"
# A shell on the serial console, for tests that act inside the guest.
while true; do setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'; done
INIT
chmod +x $root/init
# busybox acpid runs CONFDIR/PWRF/00000080 for the power button.
printf '#!/bin/sh\necho "hangar-test-guest: power button, powering off" >/dev/console\npoweroff -f\n' > $root/etc/acpi/PWRF/00000080
chmod +x $root/etc/acpi/PWRF/00000080

(cd $root && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz.tmp"
cp kernel/boot/vmlinuz-"$version" "$out/vmlinuz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$stamp" > "$out/stamp"
echo "$out"
