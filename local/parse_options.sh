# Sourced by stage scripts (Kaldi's convention): turns "--name value" arguments into shell
# variables. Only variables the script already defines are accepted. "--help" lists the
# options: the variables assigned above the line that sources this file (but root, the
# repository), each with its value at that point (so a caller's settings show) and comment.
# Requires the caller's variables to be set before sourcing.

while [ $# -gt 0 ]; do
    case "$1" in
    --help | -h)
        echo "Options of ${BASH_SOURCE[1]##*/} (values as this call sets them):"
        sed -n "1,$((BASH_LINENO[0] - 1))p" "${BASH_SOURCE[1]}" | grep -E '^[a-z_]+=' | grep -v '^root=' |
            while IFS= read -r line; do
                name=${line%%=*}
                comment=$(echo "${line#*=}" | sed -n 's/^[^#]*\(#.*\)$/\1/p')
                printf '  --%-20s %-24s %s\n' "${name}" "'${!name}'" "${comment}"
            done
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
