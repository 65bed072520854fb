# PostgreSQL for the server's database tests: installs Debian's postgresql when missing, starts
# the first cluster, creates a login role that may create databases (each test makes its own),
# and exports DSTACK_TEST_POSTGRES_URL. Sourced by scripts/test; safe to run again.

dstack_pg_role=dstack_test
dstack_pg_password=dstack_test

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The first cluster Debian made: "<version> <name> <port> <status> ...".
read -r dstack_pg_version dstack_pg_cluster dstack_pg_port dstack_pg_status _ < <(pg_lsclusters -h | head -n 1)
if [ "$dstack_pg_status" != "online" ]; then
    pg_ctlcluster "$dstack_pg_version" "$dstack_pg_cluster" start
fi

dstack_pg_deadline=$((SECONDS + 60))
until su postgres -c "psql -p $dstack_pg_port -tAc 'SELECT 1'" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$dstack_pg_deadline" ]; then
        echo "PostgreSQL did not accept connections within 60 s" >&2
        return 1 2>/dev/null || exit 1
    fi
    sleep 0.2
done

su postgres -c "psql -p $dstack_pg_port -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$dstack_pg_role') THEN
        CREATE ROLE $dstack_pg_role LOGIN CREATEDB PASSWORD '$dstack_pg_password';
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $dstack_pg_role OWNER $dstack_pg_role'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$dstack_pg_role')\gexec
SQL

export DSTACK_TEST_POSTGRES_URL="postgres://$dstack_pg_role:$dstack_pg_password@127.0.0.1:$dstack_pg_port/$dstack_pg_role"
unset dstack_pg_role dstack_pg_password dstack_pg_version dstack_pg_cluster dstack_pg_port dstack_pg_status dstack_pg_deadline
