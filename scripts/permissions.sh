# The Deno permissions the appliance runs with, in one place: sourced by scripts/start.sh
# and compile.sh so that `deno run` and the compiled executable behave the same.
#   read  configuration files        net  UDP 500/4500 (Deno.listenDatagram)
#   ffi   libc (TUN) and libcrypto    run  the `ip` command (addresses, MTU, routes)
#   sys   network interfaces (NAT detection on a wildcard address)
#   net   also the management server (TCP 127.0.0.1:32501 by default) and `rockhopper ctl`
#   write rockhopper.xml rewritten by realm changes over the management bus (a temporary file
#         next to it, then a rename; the old version kept as rockhopper.xml.prev)
#   env   `rockhopper ctl`: RHP_PASSWORD, RHP_USER, RHP_URL
# shellcheck disable=SC2034
RHP_PERMISSIONS=(--allow-read --allow-net --allow-ffi --allow-run=ip --allow-sys=networkInterfaces
  --allow-write --allow-env=RHP_PASSWORD,RHP_USER,RHP_URL)
