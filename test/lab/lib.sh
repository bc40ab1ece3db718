# Shared steps of the VM jobs (sourced; runs inside the lab VM as root).
# Needs: ROOT (the project), OUT (a writable directory for logs and results).
BIN="$ROOT/dist/bin"
PKI=/tmp/pki
# JVMs crashed twice under multi-threaded TCG (SIGSEGV/SIGILL in C1-compiled JDK code, no
# native frames of ours); tools/lab/run now uses single-threaded TCG, and the JIT also stays
# away from TCG's young AVX emulation.
export RPCTLS_JAVA_OPTS="${RPCTLS_JAVA_OPTS:-} -XX:UseAVX=0"

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

# make_pki: a throwaway CA, a server certificate for localhost/127.0.0.1, a client certificate,
# a second CA nobody trusts, a revoked client certificate and its CRL.
make_pki() {
    mkdir -p "$PKI" && cd "$PKI" || return 1
    ca() { # name
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1key.pem" -out "$1.pem" -days 2 \
            -subj "/CN=$1" -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    }
    leaf() { # ca name cn san eku
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2key.pem" -out "$2.csr" -subj "/CN=$3" 2>/dev/null
        printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=critical,CA:false\n' "$4" "$5" > "$2.ext"
        openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1key.pem" -CAcreateserial -days 2 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
    }
    ca ca; ca rogueca
    leaf ca server localhost "DNS:localhost,IP:127.0.0.1" serverAuth
    leaf ca client nfsclient "DNS:localhost" clientAuth
    leaf ca revoked revokedclient "DNS:localhost" clientAuth
    leaf rogueca rogueserver localhost "DNS:localhost,IP:127.0.0.1" serverAuth
    # a CRL that lists "revoked"
    mkdir -p crl/newcerts && : > crl/index.txt && echo 1000 > crl/crlnumber
    cat > crl/ca.cnf <<CNF
[ ca ]
default_ca = d
[ d ]
database = $PKI/crl/index.txt
crlnumber = $PKI/crl/crlnumber
certificate = $PKI/ca.pem
private_key = $PKI/cakey.pem
default_md = sha256
default_crl_days = 2
CNF
    openssl ca -config crl/ca.cnf -revoke revoked.pem -batch 2>/dev/null
    openssl ca -config crl/ca.cnf -gencrl -out crl.pem -batch 2>/dev/null
    dir() { mkdir -p "$1"; cp "$2.pem" "$1/cert.pem"; cp "$2key.pem" "$1/certkey.pem"; chmod 600 "$1/certkey.pem"; }
    dir servd server; dir clntd client; dir clntd-revoked revoked; dir servd-rogue rogueserver
    cd - >/dev/null
}

# start_nfsd: kernel modules, nfsd with a tmpfs export (overlay roots cannot be exported)
start_nfsd() {
    modprobe tls && modprobe sunrpc && modprobe nfsd && modprobe nfs && modprobe nfsv4 || return 1
    mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
    mkdir -p /var/lib/nfs/rpc_pipefs /srv/export /mnt/tls /mnt/mtls
    mountpoint -q /var/lib/nfs/rpc_pipefs || mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs
    mountpoint -q /srv/export || mount -t tmpfs -o size=64m tmpfs /srv/export
    echo "/srv/export *(rw,no_root_squash,insecure,fsid=0,no_subtree_check,sec=sys)" > /etc/exports
    rpcbind -w 2>/dev/null || rpcbind
    # a fresh nfsd's grace period would stall the first open for ~90 s
    echo 10 > /proc/fs/nfsd/nfsv4gracetime; echo 10 > /proc/fs/nfsd/nfsv4leasetime
    exportfs -ra && rpc.mountd && rpc.nfsd -N 3 4
}

# start_daemon ROLE LOGNAME ARGS...: a daemon in the foreground (-d -v), logging to $OUT/LOGNAME
start_daemon() {
    local role=$1 name=$2; shift 2
    "$BIN/rpc.tls$role" -d -v --pidfile="/run/$name.pid" "$@" > "$OUT/$name.log" 2>&1 &
    echo $! > "/run/$name.daemon"
    for _ in $(seq 600); do
        grep -q " started: " "$OUT/$name.log" 2>/dev/null && return 0
        kill -0 "$(cat /run/$name.daemon)" 2>/dev/null || { cat "$OUT/$name.log"; return 1; }
        sleep 0.1
    done
    echo "$name did not start:"; cat "$OUT/$name.log"; return 1
}

stop_daemon() { # LOGNAME
    local pid; pid=$(cat "/run/$1.daemon" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}

# tls_stat FIELD: a counter from /proc/net/tls_stat
tls_stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }
