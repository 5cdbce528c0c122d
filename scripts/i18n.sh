#!/usr/bin/env bash
# Refresh the Simplified Chinese catalogues from the whole code base and compile them.
#
#   bash scripts/i18n.sh            makemessages (django, and djangojs when a script calls
#                                   gettext) then compilemessages
#   bash scripts/i18n.sh --compile  only compile the committed .po files
#
# Needs GNU gettext (xgettext, msgmerge, msgfmt) on the PATH. The compiled .mo files are
# committed, so a machine without gettext still runs Guanxi translated.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="$root/.venv/bin/python"
locale="zh_Hans"

if [[ "${1:-}" != "--compile" ]]; then
    cd "$root/guanxi"
    "$python" ../manage.py makemessages -l "$locale" --ignore 'static/vendor/*' --no-obsolete
    # JavaScript catalogue only when some script of ours marks strings with gettext();
    # the live timeline today reads its words from the page, so it needs none.
    if grep -rlE '\b(n|p|np)?gettext\(|interpolate\(' --include='*.js' static 2>/dev/null \
            | grep -v '^static/vendor/' | grep -q .; then
        "$python" ../manage.py makemessages -d djangojs -l "$locale" --ignore 'static/vendor/*' --no-obsolete
    fi
    cd "$root"
fi

cd "$root/guanxi"
"$python" ../manage.py compilemessages -l "$locale"
cd "$root"

# Report what still needs a translator, so a round ends knowing what is left.
for po in guanxi/locale/"$locale"/LC_MESSAGES/*.po; do
    msgfmt --check-format --statistics -o /dev/null "$po" 2>&1 | sed "s|^|$po: |"
done
