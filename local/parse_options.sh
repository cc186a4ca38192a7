# Sourced by stage scripts (Kaldi's convention): turns "--name value" arguments into shell
# variables. Only variables the script already defines are accepted; "--help" lists them.
# Requires the caller's variables to be set before sourcing.

while [ $# -gt 0 ]; do
    case "$1" in
    --help | -h)
        echo "Options (current values):"
        grep -E '^[a-z_]+=' "${BASH_SOURCE[1]}" | sed 's/^/  --/'
        exit 0
        ;;
    --*=*)
        name=${1%%=*}; name=${name#--}; value=${1#*=}; shift
        ;;
    --*)
        [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
        name=${1#--}; value=$2; shift 2
        ;;
    *)
        echo "$0: unexpected argument '$1' (options are --name value)" >&2; exit 1
        ;;
    esac
    name=${name//-/_}
    if ! declare -p "${name}" >/dev/null 2>&1; then
        echo "$0: unknown option --${name} (see --help)" >&2; exit 1
    fi
    printf -v "${name}" '%s' "${value}"
done
