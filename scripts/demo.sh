#!/bin/bash
# crest demo: checkpoint a running process tree, kill it, restore it, and show
# it carrying on where it stopped, with the same PIDs.
#
# Run from the top of the tree as root, after 'make' (or use 'make demo').
# The sample is a small tree: a python3 process with a counting thread, and a
# child it forked that reads the counts from a pipe and prints them.
set -u

CREST=./crest
PY='
import os, sys, threading, time
# Drop fds inherited from whatever started the demo (make, a terminal
# multiplexer): a socket there would be one crest cannot save.
os.closerange(3, 1 << 16)
r, w = os.pipe()
if os.fork() == 0:
    # The printer: whatever comes through the pipe, to the log.
    os.close(w)
    me = os.getpid()
    for line in os.fdopen(r):
        sys.stdout.write(line.replace("via ?", "via %d" % me))
        sys.stdout.flush()
    sys.exit(0)
os.close(r)
out = os.fdopen(w, "w")
pid = os.getpid()
def count():
    n = 0
    while True:
        out.write("demo pid %d via ?: count %d\n" % (pid, n))
        out.flush()
        n += 1
        time.sleep(0.3)
t = threading.Thread(target=count)
t.start()
t.join()
'

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\n\033[1;31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run me as root (crest needs ptrace and clone3 with set_tid)"
[ -x "$CREST" ] || fail "no $CREST here: run 'make' first, from the top of the tree"
command -v python3 >/dev/null || fail "python3 is missing (scripts/deps.sh installs it)"

DIR=$(mktemp -d /tmp/crest-demo.XXXXXX) || fail "can't make a temporary directory"
LOG=$DIR.log
PID=

KID=
cleanup() {
	for p in $PID $KID; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$DIR" "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The state a process is in, from /proc/PID/stat ("" when it is gone).
proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# The count on the last line of the log.
last_count() { tail -n 1 "$LOG" | sed -n 's/.*count \([0-9]*\)$/\1/p'; }

step "1. start a sample process tree"
: > "$LOG"
python3 -c "$PY" >>"$LOG" 2>&1 </dev/null &
PID=$!
disown "$PID"	# no "Killed" notice from bash when the dump kills it
echo "python3 counter started as PID $PID, printing to $LOG"
sleep 2
[ -d "/proc/$PID" ] || fail "the sample process died at once: $(cat "$LOG")"
KID=$(cat /proc/$PID/task/*/children 2>/dev/null | tr -s ' ' '\n' | head -n 1)
echo "the tree: PID $PID ($(ls /proc/$PID/task | wc -l) threads) -> pipe -> PID $KID"
tail -n 4 "$LOG"

step "2. checkpoint the tree: $CREST dump -t $PID -D $DIR"
"$CREST" dump -t "$PID" -D "$DIR"
RC=$?
[ "$RC" = 0 ] || fail "crest dump failed (status $RC, see crest(8))"
# crest killed it after the checkpoint. It is our child, so it doesn't
# linger as a zombie: bash reaps it, and its PID is free for the restore.
for _ in $(seq 50); do
	[ -d "/proc/$PID" ] || [ -d "/proc/$KID" ] || break
	[ -d "/proc/$PID" ] || { [ "$(proc_state "$KID")" = Z ] && break; }
	sleep 0.1
done
STATE=$(proc_state "$PID")
[ -z "$STATE" ] || fail "process $PID is still there after the dump (state $STATE)"
if kill -0 "$PID" 2>/dev/null; then
	fail "process $PID still exists after the dump"
fi
echo "process $PID is gone (kill -0 $PID fails)"
BEFORE_LINES=$(wc -l < "$LOG")
BEFORE=$(last_count)
echo "its last line before the checkpoint:"
tail -n 1 "$LOG"
echo
echo "the images in $DIR:"
ls -l "$DIR"

step "3. restore the tree: $CREST restore -D $DIR -d"
"$CREST" restore -D "$DIR" -d >>"$LOG"
RC=$?
[ "$RC" = 0 ] || fail "crest restore failed (status $RC, see crest(8))"
sleep 2
STATE=$(proc_state "$PID")
case $STATE in
""|Z|X) fail "the restored process $PID is not running (state '${STATE:-gone}'); log: $(tail -n 3 "$LOG")" ;;
esac
echo "process $PID is back: state $STATE, name $(cat "/proc/$PID/comm" 2>/dev/null), $(ls /proc/$PID/task | wc -l) threads"
[ -d "/proc/$KID" ] || fail "its child $KID did not come back"
[ "$(cat /proc/$KID/task/$KID/stat | sed 's/.*) . \([0-9]*\).*/\1/')" = "$PID" ] ||
	fail "$KID is back but not as the child of $PID"
echo "its child $KID is back too, still its child, still reading the pipe"
echo "the log, around the checkpoint (--- marks where it was taken):"
head -n "$BEFORE_LINES" "$LOG" | tail -n 3
echo "---"
tail -n "+$((BEFORE_LINES + 1))" "$LOG" | head -n 6

step "4. check that it carried on"
# Every line must come from the same PID, and the counts must run 0, 1, 2...
# without a restart or a gap across the checkpoint.
CHECK=$(awk -v pid="$PID" -v kid="$KID" '
	/^demo pid / {
		if ($3 != pid) { print "line " NR " comes from " $3 " not " pid; exit }
		if ($5 != kid ":") { print "line " NR " went through " $5 " not " kid; exit }
		if ($7 != n) { print "line " NR " has count " $7 ", expected " n; exit }
		n++
	}
	END { if (!n) print "no output" }' "$LOG")
AFTER=$(last_count)
kill -KILL "$PID" "$KID" 2>/dev/null
if [ -n "$CHECK" ]; then
	fail "the counter did not continue: $CHECK"
fi
if [ -z "$AFTER" ] || [ -z "$BEFORE" ] || [ "$AFTER" -le "$BEFORE" ]; then
	fail "the counter did not move after the restore (${BEFORE:-?} before, ${AFTER:-?} now)"
fi
echo "same PIDs $PID and $KID; count was $BEFORE at the checkpoint, $AFTER now, no restart, no gap, nothing lost in the pipe"

step "done: the tree of $PID was checkpointed, killed, restored and carried on"
