#!/bin/sh
# Regenerates the field goldens from sysdig 0.29.3 (the oracle for field values):
#   cd tests/data/fields && ./generate.sh
# One file per capture and field set: NAME.SET.txt.gz holds sysdig's `-p '*...'` output (gzip,
# to keep the repository small), fields separated by tabs, so values with blanks stay apart. tests/unit/test_fields.py compares chisel's
# values with these files and needs no sysdig.
set -eu
SCAP=../scap
CAPTURES="falco_cat_write falco_connect_localhost falco_open-multiple-files falco_ping_sendto
falco_syscall falco_psp_run_as_user_0_container libs_curl_google libs_sample libs_single_ipv6_conn
libs_test_ipv6_client"

EVT='evt.num evt.type evt.dir evt.cpu evt.time evt.time.s evt.datetime evt.datetime.s
evt.time.iso8601 evt.rawtime evt.rawtime.s evt.rawtime.ns evt.reltime evt.reltime.s evt.reltime.ns
evt.deltatime evt.deltatime.ns evt.latency evt.latency.s evt.latency.ns evt.latency.human evt.res
evt.rawres evt.failed evt.is_io evt.is_io_read evt.is_io_write evt.io_dir evt.is_wait
evt.is_syslog evt.buflen evt.category evt.count evt.count.exit evt.count.error
evt.count.error.file evt.count.error.net evt.count.error.memory evt.count.error.other
syscall.type evt.rawarg.res evt.arg[0] evt.arg.fd evt.args'
PROC='evt.num proc.pid proc.ppid proc.vpid proc.name proc.pname proc.aname[0] proc.aname[2]
proc.apid[1] proc.apid[3] proc.exe proc.exepath proc.args proc.cmdline proc.exeline
proc.pcmdline proc.cwd proc.tty proc.sid proc.sname proc.vpgid proc.loginshellid proc.nthreads
proc.nchilds proc.fdopencount proc.fdlimit proc.fdusage proc.vmsize proc.vmrss proc.vmswap
proc.duration thread.tid thread.vtid thread.ismain thread.vmsize thread.vmrss thread.pfmajor
thread.pfminor user.uid user.name user.homedir user.shell user.loginuid user.loginname group.gid
group.name'
FD='evt.num fd.num fd.type fd.typechar fd.name fd.directory fd.filename fd.cip fd.sip fd.lip
fd.rip fd.cport fd.sport fd.lport fd.rport fd.cproto fd.sproto fd.lproto fd.rproto fd.l4proto
fd.sockfamily fd.is_server fd.connected fd.name_changed fd.dev fd.dev.major fd.dev.minor fd.uid
evt.is_open_read evt.is_open_write evt.is_open_exec evt.abspath evt.buffer'

fmt() {
    printf '*'
    first=1
    for f in $1; do
        if [ $first = 1 ]; then first=0; else printf '\\t'; fi
        printf '%%%s' "$f"
    done
}

for name in $CAPTURES; do
    for set in evt proc fd; do
        case $set in evt) fields=$EVT ;; proc) fields=$PROC ;; fd) fields=$FD ;; esac
        { echo "# $fields" | tr '\n' ' '; echo; TZ=UTC sysdig -r "$SCAP/$name.scap" -p "$(fmt "$fields")"; } \
            | gzip -9n > "$name.$set.txt.gz"
    done
done
