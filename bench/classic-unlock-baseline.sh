#!/usr/bin/env bash
# The classic recipe's unlock algorithm (classic-recipe.md, section 9), reduced to what the
# benchmark compares: for each container, every key file of the key directory in directory
# order, tried with cryptsetup one after another until one opens it. `open --test-passphrase`
# stands in for `luksOpen` (this kernel has no device-mapper) and costs the same key
# derivations: cryptsetup tries every active slot for a key.
# Usage: classic-unlock-baseline.sh KEYDIR CONTAINER...   Prints "CONTAINER KEYFILE|none".
set -u
keydir=$1; shift
for container in "$@"; do
  opener=none
  for key in "$keydir"/luks-*.key; do
    if cryptsetup open --test-passphrase --key-file "$key" "$container" 2>/dev/null; then
      opener=$key
      break
    fi
  done
  echo "$container $opener"
done
