#!/bin/sh
# pgha-etcd: keeps the etcd package from starting etcd during its installation (Debian's default would
# form a one-member cluster on localhost). Removed by pgha right after the install.
case "$1" in
  etcd|etcd.service|etcd2|etcd2.service) exit 101 ;;
esac
exit 0
