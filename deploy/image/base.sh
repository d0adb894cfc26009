#!/bin/bash
# Stage 1 of the peerhub image: the base root file system (Debian trixie arm64 with every package of
# packages.txt), made by debootstrap under qemu-user-static and then apt-get inside the root.
# build.sh caches its result as a tarball keyed by packages.txt + this file, so it runs only when one
# of them changes. Leaves the root with services forbidden to start (policy-rc.d) and update-initramfs
# diverted to a no-op: build.sh builds the initramfs once, at the end.
#
#   base.sh <root dir> <suite> <mirror> <packages.txt>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

root=$1
suite=$2
mirror=$3
packages_file=$4
[ ! -e "$root" ] || die "base: $root already exists"

trap umount_chroot EXIT

step "debootstrap $suite arm64 (minbase) from $mirror"
mkdir -p "$root"
debootstrap --arch=arm64 --variant=minbase --components=main,non-free-firmware \
  --include=ca-certificates "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
  tail -n 30 "$root.debootstrap.log" >&2
  die "debootstrap failed (log: $root.debootstrap.log)"
}
rm -f "$root.debootstrap.log"

step "apt sources: $suite, $suite-updates, $suite-security, $suite-backports"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates $suite-backports
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/apt.conf.d/90peerhub-image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
# dpkg without fsync for every file: the file systems are made afterwards from this tree (build.sh
# removes this setting from the image).
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/peerhub-build-unsafe-io"
# A root that is not running: no service may start while packages are installed.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# Under emulation each kernel or firmware step would rebuild the initramfs (minutes each): defer it.
in_root "$root" dpkg-divert --local --rename --add /usr/sbin/update-initramfs >/dev/null
printf '#!/bin/sh\necho "update-initramfs: deferred by the peerhub image build" >&2\nexit 0\n' \
  >"$root/usr/sbin/update-initramfs"
chmod 755 "$root/usr/sbin/update-initramfs"

mount_chroot "$root"
step "apt-get update"
in_root "$root" apt-get update -q >/dev/null || die "apt-get update failed in the root"

mapfile -t all < <(read_packages "$packages_file")
main=()
backports=()
for p in "${all[@]}"; do
  case $p in
    */"$suite"-backports) backports+=("${p%/*}") ;;
    *) main+=("$p") ;;
  esac
done
step "apt-get install ${#main[@]} packages from $suite"
in_root "$root" apt-get install -y -q "${main[@]}" >"$root.apt.log" 2>&1 || {
  tail -n 40 "$root.apt.log" >&2
  die "apt-get install failed (log: $root.apt.log)"
}
if [ ${#backports[@]} -gt 0 ]; then
  step "apt-get install from $suite-backports: ${backports[*]}"
  in_root "$root" apt-get install -y -q -t "$suite-backports" "${backports[@]}" >>"$root.apt.log" 2>&1 || {
    tail -n 40 "$root.apt.log" >&2
    die "apt-get install from backports failed (log: $root.apt.log)"
  }
fi
rm -f "$root.apt.log"
in_root "$root" apt-get clean
umount_chroot
step "base root file system ready"
