#!/bin/sh
# Install what crest needs to build and test, on Debian/Ubuntu.
# As root it installs the missing packages; otherwise it lists them.
# runc and busybox-static: the container test (test/run --mode tree-checks -k runc)
# runs a busybox container with Debian's runc driving crest as its criu.
set -e
pkgs="gcc make binutils pkg-config protobuf-c-compiler libprotobuf-c-dev
libnl-3-dev libnl-genl-3-dev libcap-dev libbsd-dev libcmocka-dev libzstd-dev python3
procps xz-utils util-linux sqlite3 libssl-dev inotify-tools redis-server socat
tmux vim less nginx-light man-db groff-base
runc busybox-static"
missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "crest needs these packages:$missing" >&2
	echo "run: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (a second deps.sh, unattended upgrades) rather than fail.
apt="apt-get -o DPkg::Lock::Timeout=600"
$apt update -qq >/dev/null
# shellcheck disable=SC2086
$apt install -y -qq --no-install-recommends $missing >/dev/null
