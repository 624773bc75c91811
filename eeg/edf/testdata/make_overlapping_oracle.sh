#!/bin/sh
# Makes overlapping_annotations.oracle.json: what EDFlib reads from
# ../shared/data/edf/test_edf_overlapping_annotations.edf once the one field it
# objects to is blanked. EDFlib refuses the original because the prefiltering
# field of its "EDF Annotations" signal is not blank ("HP:0Hz LP:0Hz N:0Hz");
# that field carries no data, so the blanked copy has the same samples and
# TALs and EDFlib's reading of it is the expected reading of the original.
# Usage (from this directory): sh make_overlapping_oracle.sh
set -eu
shared=$(cd ../../../../shared && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/edfdump" "$shared/tools/edfdump/edfdump.c" -ledf -lm
/usr/bin/python3 - "$shared/data/edf/test_edf_overlapping_annotations.edf" "$tmp/x.edf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
ns = int(b[252:256])
off = 256 + ns * 136 + (ns - 1) * 80   # prefiltering field of the last signal
assert b[256 + (ns - 1) * 16:256 + ns * 16].strip() == b'EDF Annotations'
b[off:off + 80] = b' ' * 80
open(sys.argv[2], 'wb').write(b)
PY
"$tmp/edfdump" "$tmp/x.edf" | sed 's|"file":"[^"]*"|"file":"test_edf_overlapping_annotations.edf (annotation prefilter blanked)"|' > overlapping_annotations.oracle.json
