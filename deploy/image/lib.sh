# shellcheck shell=bash
# Helpers shared by build.sh and base.sh (sourced, not run). Bash.

# Seconds since the build started, for the step log.
img_t0=${img_t0:-$(date +%s)}
export img_t0
step() { echo "[image +$(($(date +%s) - img_t0))s] $*"; }
die() {
  echo "peerhub image: $*" >&2
  exit 1
}

# Mounts made inside the root, in mount order; umount_chroot undoes them in reverse order.
chroot_mounts=()
mount_chroot() {
  local r=$1
  mount -t proc proc "$r/proc" && chroot_mounts+=("$r/proc")
  mount -t sysfs sysfs "$r/sys" && chroot_mounts+=("$r/sys")
  mount --bind /dev "$r/dev" && chroot_mounts+=("$r/dev")
  mount -t devpts devpts "$r/dev/pts" -o newinstance,ptmxmode=0666 && chroot_mounts+=("$r/dev/pts")
  mount -t tmpfs tmpfs "$r/run" -o mode=0755 && chroot_mounts+=("$r/run")
  # Name resolution for apt inside the root; the image's own resolv.conf is put back by unmount.
  if [ -L "$r/etc/resolv.conf" ] || [ -e "$r/etc/resolv.conf" ]; then
    mv "$r/etc/resolv.conf" "$r/etc/resolv.conf.peerhub-build"
  fi
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  chroot_root=$r
}
umount_chroot() {
  local i
  for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
    umount "${chroot_mounts[$i]}" 2>/dev/null || umount -l "${chroot_mounts[$i]}" || true
  done
  chroot_mounts=()
  if [ -n "${chroot_root:-}" ] && { [ -e "$chroot_root/etc/resolv.conf.peerhub-build" ] || [ -L "$chroot_root/etc/resolv.conf.peerhub-build" ]; }; then
    rm -f "$chroot_root/etc/resolv.conf"
    mv "$chroot_root/etc/resolv.conf.peerhub-build" "$chroot_root/etc/resolv.conf"
  fi
  chroot_root=
}

# Run a command in the root with a clean, non-interactive environment.
in_root() {
  local r=$1
  shift
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    DEBCONF_NONINTERACTIVE_SEEN=true chroot "$r" "$@"
}

# Package names from packages.txt (comments and blank lines dropped).
read_packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -v '^$'
}
