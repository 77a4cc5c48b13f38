#!/bin/sh
# Managed by pgha: keepalived's track script. Exit 0 while HAProxy runs, non-zero otherwise: after
# `fall` failures the VRRP instance goes to FAULT and gives the VIP up.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec pidof haproxy >/dev/null
