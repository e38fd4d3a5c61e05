#!/bin/sh
# Writes the files ./kustomization.yaml turns into Secrets, with fresh random values,
# and prints the two values a person needs once: the portal's API token and Jenkins'
# admin password. Existing files are kept, so running it again changes nothing.
# Usage: deploy/secrets/generate.sh [DIR]   (DIR defaults to this script's directory)
set -eu
dir=${1:-$(dirname "$0")}
umask 077

random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then printf %s "$1" | sha256sum
    else printf %s "$1" | shasum -a 256; fi | cut -d' ' -f1
}
# write NAME: the file's content comes from stdin; an existing file is left alone.
write() {
    if [ -e "$dir/$1" ]; then echo "kept $dir/$1" >&2; cat >/dev/null; return 1; fi
    cat >"$dir/$1"
}

cache_report_token=$(random)
if printf %s "$cache_report_token" | write cache-report-token; then
    portal_token=$(random)
    write api-tokens.yaml <<EOF || true
# API bearer tokens (README: The service). Add one entry per caller; store only digests.
tokens:
- {user: portal, access: write, projects: ['*'], sha256: $(sha256 "$portal_token")}
- {user: cache-gc, access: cache-report, sha256: $(sha256 "$cache_report_token")}
EOF
    echo "API token of user portal (write access): $portal_token"
fi
write jenkins-token.env <<EOF || true
# The Jenkins user the sidecar acts as. JCasC creates it with this password; put an API
# token of that user in token= to spare the crumb round trip.
user=jenkins-sidecar
password=$(random)
token=
EOF
write webhook-secrets.env <<EOF || true
approval-webhook-secret=$(random)
EOF
write ui-key.env <<EOF || true
secret-key=$(random)
EOF
write notifier-secrets.env <<EOF || true
# Credentials of notification channels, one KEY=value a line.
EOF
admin_password=$(random)
if write jenkins-controller.env <<EOF; then
admin-password=$admin_password
# The Git credential with id git (user name and password or access token) for private clones.
git-username=
git-password=
EOF
    echo "Jenkins admin password: $admin_password"
fi
