# The Deno permissions the appliance runs with, in one place: sourced by scripts/start.sh
# and compile.sh so that `deno run` and the compiled executable behave the same.
#   read  configuration files        net  UDP 500/4500 (Deno.listenDatagram)
#   ffi   libc (TUN) and libcrypto    run  the `ip` command (addresses, MTU, routes)
#   sys   network interfaces (NAT detection on a wildcard address)
# shellcheck disable=SC2034
RHP_PERMISSIONS=(--allow-read --allow-net --allow-ffi --allow-run=ip --allow-sys=networkInterfaces)
