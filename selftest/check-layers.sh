#!/bin/bash
#
# No import circles among our sources (issue #15). An arrow goes from
# one source file to another when it calls a function (or uses a global)
# that the other defines, as the linker sees it: the undefined symbols
# of one object file against the definitions of the others. The arrows
# must form no cycle, so that each layer only calls the ones below it
# (callbacks a higher layer hands down are not arrows). proto/ calls
# nothing of ours outside proto/.
#
#   selftest/check-layers.sh OBJDIR
#
# OBJDIR is the fast build's object folder (out/obj after "make build").

set -euo pipefail
cd "$(dirname "$0")/.."
objdir="${1:?usage: $0 OBJDIR, the object folder of the fast build (out/obj)}"

exec python3 - "$objdir" <<'PY'
import glob, os, subprocess, sys

objdir = sys.argv[1]
top = 'source3/modules'
ours = {}
for p in glob.glob(top + '/*.c') + glob.glob(top + '/smbdirect_helper/*.c') \
        + glob.glob(top + '/smbdirect_helper/proto/*.c'):
    ours[os.path.splitext(os.path.basename(p))[0]] = os.path.relpath(p, top)

def syms(obj, *flags):
    out = subprocess.run(['nm', '--format=posix'] + list(flags) + [obj],
                         check=True, capture_output=True, text=True).stdout
    return {l.split()[0] for l in out.splitlines() if l.strip()}

defined, undefined = {}, {}
for name in ours:
    obj = os.path.join(objdir, name + '.o')
    if not os.path.exists(obj):
        print('layers: FAIL: %s is missing: run "make build" first'
              % obj)
        sys.exit(1)
    defined[name] = syms(obj, '--defined-only', '--extern-only')
    undefined[name] = syms(obj, '--undefined-only')

owner = {}
for name, d in defined.items():
    for s in d:
        owner.setdefault(s, name)
edges = {n: {} for n in ours}
for n, u in undefined.items():
    for s in u:
        m = owner.get(s)
        if m is not None and m != n:
            edges[n].setdefault(m, []).append(s)

bad = []
for n, out in edges.items():
    if ours[n].startswith('smbdirect_helper/proto/'):
        for m, s in out.items():
            if not ours[m].startswith('smbdirect_helper/proto/'):
                bad.append('%s calls %s (%s): proto/ must not reach out' %
                           (ours[n], ours[m], ', '.join(sorted(s))))

# Cycles: Tarjan's strongly connected components.
index, low, stack, on, sccs = {}, {}, [], set(), []
counter = [0]
def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
for v in sorted(edges):
    if v not in index:
        strong(v)

for comp in sccs:
    arrows = ['%s -> %s (%s)' % (a, b, ', '.join(sorted(edges[a][b])[:4]))
              for a in comp for b in sorted(edges[a]) if b in comp]
    bad.append('import circle among %s: %s' %
               (', '.join(comp), '; '.join(arrows)))

for b in bad:
    print('layers: FAIL: ' + b)
if bad:
    print('layers: move the function to the lower file, or let '
          'the lower file report up by return value or a callback')
    sys.exit(1)
print('layers: %d source files, %d arrows, no circle' %
      (len(ours), sum(len(e) for e in edges.values())))
PY
