#!/bin/bash
# Build the peerhub appliance image for Raspberry Pi 4/5: Debian trixie arm64 from Debian packages only,
# as a partitioned disk image (FAT32 PHBOOT + ext4 PHROOT), compressed, with a SHA-256 file.
#
#   sudo npm run image            (= bash deploy/image/build.sh)
#
# Steps: (1) base root file system, cached in deploy/out/cache/ keyed by packages.txt + base.sh;
# (2) the peerhub .deb (npm run deb unless PEERHUB_DEB names one), image configuration from rootfs/,
# the initramfs built once and copied to the boot partition by raspi-firmware's hook;
# (3) file systems built without mounting (mkfs.ext4 -d, mkfs.vfat + mcopy), partition table by sfdisk.
# Outputs in deploy/out/: peerhub-<version>-arm64.img (kept for the boot test), .img.xz, .img.xz.sha256.
#
# Environment: PEERHUB_DEB=<path> (skip npm run deb), PEERHUB_MIRROR (default http://deb.debian.org/debian),
# PEERHUB_IMAGE_OUT (default deploy/out), PEERHUB_IMAGE_CACHE (default deploy/out/cache; a directory
# outside the work tree keeps the base across fresh clones, e.g. in CI), PEERHUB_IMAGE_XZ=0 (skip
# compression, for quick iterations).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
img_t0=$(date +%s)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

suite=trixie
mirror=${PEERHUB_MIRROR:-http://deb.debian.org/debian}
out=${PEERHUB_IMAGE_OUT:-$repo/deploy/out}
work=$out/image-work
cache=${PEERHUB_IMAGE_CACHE:-$out/cache}
boot_mib=512

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts need it): sudo npm run image"
missing=()
for t in debootstrap mkfs.ext4 mkfs.vfat mcopy sfdisk xz zstd sha256sum update-binfmts node; do
  command -v "$t" >/dev/null || missing+=("$t")
done
[ -x /usr/bin/qemu-aarch64-static ] || [ "$(uname -m)" = aarch64 ] || missing+=(qemu-aarch64-static)
[ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]}
  apt-get install debootstrap qemu-user-static binfmt-support dosfstools mtools fdisk e2fsprogs xz-utils zstd"

version=$(node -p "require('$repo/package.json').version")
name=peerhub-$version-arm64
step "peerhub image $name"

# --- qemu-user-static via binfmt_misc (arm64 programs in the root run under emulation) -------------
if [ "$(uname -m)" != aarch64 ]; then
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
fi

# --- work directory; always unmount what the root has mounted ------------------------------------
cleanup() {
  umount_chroot
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A run killed hard may have left mounts in the root: never delete through them (/dev is a bind mount).
if [ -d "$work" ]; then
  { findmnt -rn -o TARGET | grep -F "$work/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  ! findmnt -rn -o TARGET | grep -qF "$work/" || die "mounts remain under $work: unmount them first"
  rm -rf --one-file-system "$work"
fi
mkdir -p "$work" "$cache"
root=$work/root

# --- (1) base root file system, from the cache when packages.txt and base.sh are unchanged --------
key=$(cat "$here/packages.txt" "$here/base.sh" <(echo "$suite $mirror") | sha256sum | cut -c1-16)
base_tar=$cache/base-$suite-arm64-$key.tar.zst
if [ -f "$base_tar" ]; then
  step "base: cached $(basename "$base_tar")"
else
  step "base: not cached, building (debootstrap + packages under emulation)"
  bash "$here/base.sh" "$work/base" "$suite" "$mirror" "$here/packages.txt"
  step "base: caching as $(basename "$base_tar")"
  tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$work/base" -I 'zstd -T0 -3' \
    -cf "$base_tar.part" .
  mv "$base_tar.part" "$base_tar"
  find "$cache" -name "base-$suite-arm64-*.tar.zst" ! -name "$(basename "$base_tar")" -delete
  rm -rf "$work/base"
fi
[ "${PEERHUB_IMAGE_STOP_AFTER:-}" != base ] || exit 0
mkdir -p "$root"
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$root" -I zstd -xf "$base_tar"
step "base: extracted"

# --- (2) the peerhub .deb -----------------------------------------------------------------------
deb=${PEERHUB_DEB:-}
if [ -z "$deb" ]; then
  step "deb: npm run deb"
  (cd "$repo" && npm run --silent deb) || die "npm run deb failed"
  deb=$out/peerhub_${version}_all.deb
fi
[ -f "$deb" ] || die "no .deb at $deb (npm run deb, or PEERHUB_DEB=<path>)"
firstboot_unit=$repo/deploy/firstboot/peerhub-firstboot.service
[ -f "$firstboot_unit" ] || die "missing $firstboot_unit"

mount_chroot "$root"
step "install $(basename "$deb")"
cp "$deb" "$root/tmp/peerhub.deb"
if ! in_root "$root" apt-get install -y -q /tmp/peerhub.deb >"$work/deb.log" 2>&1; then
  # The cached package lists may be stale when the .deb needs something the base lacks.
  in_root "$root" apt-get update -q >>"$work/deb.log" 2>&1 || true
  in_root "$root" apt-get install -y -q /tmp/peerhub.deb >>"$work/deb.log" 2>&1 || {
    tail -n 30 "$work/deb.log" >&2
    die "installing the .deb failed (log: $work/deb.log)"
  }
fi
rm -f "$root/tmp/peerhub.deb"

step "configure: files from deploy/image/rootfs, users, services"
tar -C "$here/rootfs" --owner=0 --group=0 -cf - . | tar -C "$root" --no-overwrite-dir -xf -
chmod 0440 "$root/etc/sudoers.d/admin"
chmod 0755 "$root/usr/local/sbin/peerhub-growroot"
install -m 0644 "$firstboot_unit" "$root/etc/systemd/system/peerhub-firstboot.service"
echo peerhub >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	peerhub
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
HOSTS
# No password anywhere: root and admin are locked; admin logs in with the key from the first-boot file.
in_root "$root" passwd -l root >/dev/null
in_root "$root" useradd --create-home --shell /bin/bash --comment "peerhub administrator" \
  --groups sudo,peerhub admin
in_root "$root" passwd -l admin >/dev/null
# Units shipped by the .deb and by the image.
in_root "$root" systemctl enable systemd-networkd systemd-resolved systemd-timesyncd ssh avahi-daemon \
  peerhub peerhub-firstboot peerhub-ssh-keygen peerhub-growroot 2>&1 | grep -v '^Created symlink' || true
in_root "$root" systemctl disable ssh.socket 2>/dev/null || true

step "raspi-firmware: config.txt lines, cmdline, overlays"
# raspi-firmware's hooks (kernel postinst.d and initramfs post-update.d) write /boot/firmware/config.txt
# from /etc/default/raspi-firmware and append /etc/default/raspi-firmware-custom; cmdline.txt takes
# ROOTPART and /etc/default/raspi-extra-cmdline.
# Root by label (the card may show up as mmcblk0 or sda); no CMA pool (headless, and the hook cannot
# tell a Pi 4, where cma=64M is harmful, from the build host); consoles fixed rather than probed from
# the build host's /dev: serial (Pi 4 mini UART) and HDMI, the last one taking the boot messages.
cat >>"$root/etc/default/raspi-firmware" <<'RASPI'

# peerhub image
ROOTPART="LABEL=PHROOT"
CMA=0
CONSOLES="ttyS1,115200 tty0"
RASPI
cat >"$root/etc/default/raspi-firmware-custom" <<'CUSTOM'
# peerhub panel: LEDs (gpio-leds) and buttons (gpio-keys) for each board.
[pi4]
dtoverlay=peerhub-pi4
[pi5]
dtoverlay=peerhub-pi5
[all]
CUSTOM
mkdir -p "$root/boot/firmware/overlays"
overlay_src=$root/usr/lib/peerhub/overlays
[ -d "$overlay_src" ] || overlay_src=$repo/dist/overlays
for b in pi4 pi5; do
  [ -f "$overlay_src/peerhub-$b.dtbo" ] || die "missing overlay peerhub-$b.dtbo (in the .deb or dist/overlays)"
done

step "initramfs: built once (update-initramfs was deferred during installs)"
rm -f "$root/usr/sbin/update-initramfs"
in_root "$root" dpkg-divert --local --rename --remove /usr/sbin/update-initramfs >/dev/null
kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
[ -n "$kver" ] || die "no kernel modules in the root"
in_root "$root" update-initramfs -c -k "$kver" >"$work/initramfs.log" 2>&1 || {
  tail -n 30 "$work/initramfs.log" >&2
  die "update-initramfs failed (log: $work/initramfs.log)"
}
# The overlays after the hook, which may have refreshed /boot/firmware.
mkdir -p "$root/boot/firmware/overlays"
for b in pi4 pi5; do
  install -m 0644 "$overlay_src/peerhub-$b.dtbo" "$root/boot/firmware/overlays/peerhub-$b.dtbo"
done
[ -f "$root/boot/firmware/config.txt" ] || die "raspi-firmware wrote no config.txt"
grep -q 'dtoverlay=peerhub-pi5' "$root/boot/firmware/config.txt" || die "config.txt lacks the peerhub overlays"
grep -q 'root=LABEL=PHROOT' "$root/boot/firmware/cmdline.txt" || die "cmdline.txt lacks root=LABEL=PHROOT"

# The firmware applies each dtoverlay= to the board's DTB by label (&gpio on a Pi 4, &rp1_gpio on a Pi 5):
# check here that Debian's DTBs carry those labels, as the firmware will need them.
if command -v fdtoverlay >/dev/null; then
  for pair in pi4:bcm2711-rpi-4-b pi5:bcm2712-rpi-5-b; do
    b=${pair%%:*} dtb=${pair#*:}
    fdtoverlay -i "$root/boot/firmware/$dtb.dtb" -o "$work/check-$b.dtb" \
      "$root/boot/firmware/overlays/peerhub-$b.dtbo" || die "peerhub-$b.dtbo does not apply to $dtb.dtb"
  done
  step "overlays apply to bcm2711-rpi-4-b.dtb and bcm2712-rpi-5-b.dtb (fdtoverlay)"
else
  echo "peerhub image: fdtoverlay not found (device-tree-compiler): overlays not checked against the DTBs" >&2
fi

step "clean: caches, logs, identity (machine-id and SSH host keys are made on the device)"
in_root "$root" apt-get clean
umount_chroot
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/dpkg/dpkg.cfg.d/peerhub-build-unsafe-io"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.bash_history
find "$root/var/log" -type f -exec truncate -s 0 {} +
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id" "$root/var/lib/systemd/random-seed"
: >"$root/etc/machine-id"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
echo "$name $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$root/etc/peerhub-image"

# --- (3) file systems and the disk image, without mounting -------------------------------------
step "assemble: FAT32 PHBOOT (${boot_mib} MiB) + ext4 PHROOT"
mv "$root/boot/firmware" "$work/bootfs"
mkdir -m 0755 "$root/boot/firmware"
used_mib=$(du -s --block-size=1M "$root" | cut -f1)
# Content + 25 % + 256 MiB: room for the first boot; the root grows to the card on first boot.
root_mib=$((used_mib + used_mib / 4 + 256))
rm -f "$work/boot.vfat" "$work/root.ext4"
mkfs.vfat -F 32 -n PHBOOT -C "$work/boot.vfat" $((boot_mib * 1024)) >/dev/null
mcopy -s -p -i "$work/boot.vfat" "$work/bootfs"/* ::
mkfs.ext4 -q -L PHROOT -m 2 -d "$root" "$work/root.ext4" "${root_mib}M"
start=8192 # 4 MiB alignment, as the Pi's own images
boot_sectors=$((boot_mib * 2048))
root_start=$((start + boot_sectors))
root_sectors=$((root_mib * 2048))
img=$out/$name.img
rm -f "$img" "$img.xz" "$img.xz.sha256"
truncate -s $(((root_start + root_sectors) * 512)) "$img"
sfdisk --quiet "$img" <<SFDISK
label: dos
label-id: 0x$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
unit: sectors

start=$start, size=$boot_sectors, type=c, bootable
start=$root_start, size=$root_sectors, type=83
SFDISK
dd if="$work/boot.vfat" of="$img" bs=4M seek=$((start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img" bs=4M seek=$((root_start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
step "image: $img ($(du -h --apparent-size "$img" | cut -f1), root content ${used_mib} MiB)"
# The boot test reads the kernel and initrd of this build from here.
rm -rf "$out/$name.boot"
mkdir -p "$out/$name.boot"
cp "$work/bootfs/vmlinuz-$kver" "$out/$name.boot/vmlinuz" 2>/dev/null || cp "$root/boot/vmlinuz-$kver" "$out/$name.boot/vmlinuz"
cp "$work/bootfs/initrd.img-$kver" "$out/$name.boot/initrd.img" 2>/dev/null || cp "$root/boot/initrd.img-$kver" "$out/$name.boot/initrd.img"

if [ "${PEERHUB_IMAGE_XZ:-1}" != 0 ]; then
  step "compress: xz"
  xz -T2 -6 -k -f "$img"
  (cd "$out" && sha256sum "$name.img.xz" >"$name.img.xz.sha256")
  step "done: $img.xz ($(du -h "$img.xz" | cut -f1)), $img.xz.sha256"
else
  step "done: $img (not compressed: PEERHUB_IMAGE_XZ=0)"
fi
rm -rf --one-file-system "$work"
