#!/usr/bin/env bash
# Generates a repository with a long history and a train's worth of finished branches, for
# `cargo bench --bench train`.
#
# usage: scripts/bench-train-repo.sh DIR [COMMITS] [FILES] [BRANCHES]
#
# main gets COMMITS commits over FILES files (in 100-file directories), written with
# `git fast-import`, so that checking the tree out costs what it costs in a real project.
# Then BRANCHES branches `agent001/<n>-work` leave main's tip, each with two commits: a new file
# of its own and a rewrite of one existing file. Every fifth branch rewrites the same file as the
# branch before it, so 20 % of the branches conflict with another one.
set -euo pipefail

dir=${1:?usage: $0 DIR [COMMITS] [FILES] [BRANCHES]}
commits=${2:-20000}
files=${3:-5000}
branches=${4:-50}

# Sets $path to file number $1's path, without a subshell.
path_of() { printf -v path 'src/d%03d/f%05d.txt' $(($1 / 100)) "$1"; }

rm -rf "$dir"
git init -q -b main "$dir"
cd "$dir"

{
    stamp=1700000000
    for ((c = 1; c <= commits; c++)); do
        message="commit $c"
        printf 'commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n' \
            "$c" $((stamp + c))
        printf 'data %d\n%s\n' ${#message} "$message"
        if ((c == 1)); then
            for ((f = 0; f < files; f++)); do
                content="file $f"$'\n'"version 0"$'\n'
                path_of "$f"
                printf 'M 100644 inline %s\ndata %d\n%s\n' "$path" ${#content} "$content"
            done
        else
            printf 'from :%d\n' $((c - 1))
            f=$(((c * 7919) % files))
            content="file $f"$'\n'"version $c"$'\n'
            path_of "$f"
            printf 'M 100644 inline %s\ndata %d\n%s\n' "$path" ${#content} "$content"
        fi
    done
} | git fast-import --quiet

git -c advice.detachedHead=false checkout -q main

tip=$(git rev-parse main)
export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@example.com
export GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@example.com
index=$(mktemp)
trap 'rm -f "$index"' EXIT
for ((b = 1; b <= branches; b++)); do
    # Branch b rewrites file `target`; every fifth branch picks its predecessor's file.
    target=$((b * 13 % files))
    if ((b % 5 == 0)); then target=$(((b - 1) * 13 % files)); fi
    GIT_INDEX_FILE=$index git read-tree "$tip"
    blob=$(printf 'work of branch %d\n' "$b" | git hash-object -w --stdin)
    GIT_INDEX_FILE=$index git update-index --add --cacheinfo "100644,$blob,work/b$b.txt"
    first=$(git commit-tree "$(GIT_INDEX_FILE=$index git write-tree)" -p "$tip" -m "branch $b: new file")
    blob=$(printf 'rewritten by branch %d\n' "$b" | git hash-object -w --stdin)
    path_of "$target"
    GIT_INDEX_FILE=$index git update-index --cacheinfo "100644,$blob,$path"
    second=$(git commit-tree "$(GIT_INDEX_FILE=$index git write-tree)" -p "$first" -m "branch $b: rewrite")
    git update-ref "refs/heads/agent001/$b-work" "$second"
done
