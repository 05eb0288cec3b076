# Sourced by bench/run.sh and bench/tls_ab.sh.
# make_tls_certs DIR: a CA and a broker certificate for 127.0.0.1/localhost signed by it (EC
# P-256), made now with the openssl command into the run's scratch dir (no key is ever kept);
# DIR/keystore.pem is the broker's key and certificate, DIR/ca.pem what the clients trust.
make_tls_certs() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
      -days 2 -subj /O=runnel/CN=runnel-bench-ca &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
        -subj /O=runnel/CN=localhost &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
        -extfile san.ext &&
      cat server.key server.pem >keystore.pem
  ) >"$d/openssl.log" 2>&1
}
