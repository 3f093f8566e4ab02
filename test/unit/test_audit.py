#!/usr/bin/env python3
"""Unit tests of the /proc audit's comparison (test/audit.py)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import audit  # noqa: E402


class SharedDescriptions(unittest.TestCase):
    def test_first_holder_named(self):
        fds = [("1", 3, "/dev/tty"), ("1", 4, "/dev/tty"), ("2", 3, "/dev/tty"),
               ("2", 5, "pipe:[7]"), ("2", 6, "pipe:[7]")]
        one = {("1", 3), ("2", 3)}      # one open, inherited
        pipe = {("2", 5), ("2", 6)}     # dup
        got = audit.shared_descriptions(
            fds, lambda x, y: {x, y} <= one or {x, y} <= pipe)
        self.assertEqual(got, {("2", 3): "1 fd 3", ("2", 6): "2 fd 5"})

    def test_other_links_not_asked(self):
        asked = []
        audit.shared_descriptions(
            [("1", 3, "/a"), ("1", 4, "/b")],
            lambda x, y: asked.append((x, y)) or True)
        self.assertEqual(asked, [])


class Compare(unittest.TestCase):
    def test_equal(self):
        s = {"1": {"status:CapEff": "0", "fd:3": "pipe#1"}}
        self.assertEqual(audit.compare(s, s), ([], []))

    def test_difference_fails(self):
        b = {"1": {"status:NoNewPrivs": "1"}}
        a = {"1": {"status:NoNewPrivs": "0"}}
        probs, known = audit.compare(b, a)
        self.assertEqual(len(probs), 1)
        self.assertIn("status:NoNewPrivs", probs[0])
        self.assertEqual(known, [])

    def test_missing_key_and_task(self):
        b = {"1": {"fd:5": "/tmp/x"}, "1/2": {}}
        a = {"1": {}}
        probs, _ = audit.compare(b, a)
        self.assertEqual(len(probs), 2)
        self.assertTrue(any("gone" in p for p in probs))

    def test_ignored(self):
        b = {"1": {"status:voluntary_ctxt_switches": "3", "stat:utime": "1"}}
        a = {"1": {"status:voluntary_ctxt_switches": "9", "stat:utime": "5"}}
        self.assertEqual(audit.compare(b, a), ([], []))

    def test_extra_ignored(self):
        b = {"1": {"fd:3:pos": "10"}}
        a = {"1": {"fd:3:pos": "20"}}
        self.assertEqual(len(audit.compare(b, a)[0]), 1)
        self.assertEqual(audit.compare(b, a, extra_ignored=[
            (r"fd:\d+:pos", "it writes")]), ([], []))

    def test_known_loss(self):
        b = {"1": {"vma:1000:ac": "no"}}
        a = {"1": {"vma:1000:ac": "yes"}}
        probs, known = audit.compare(b, a, losses=[(r"vma:\w+:ac", "why")])
        self.assertEqual(probs, [])
        self.assertEqual(len(known), 1)
        self.assertIn("[known loss: why]", known[0])

    def test_conditional_loss(self):
        losses = [(r"comm", "zombie", lambda t, b, a: t.get("stat:state") == "Z")]
        b = {"1": {"comm": "x", "stat:state": "Z"}, "2": {"comm": "y"}}
        a = {"1": {"comm": "crest", "stat:state": "Z"}, "2": {"comm": "crest"}}
        probs, known = audit.compare(b, a, losses=losses)
        self.assertEqual(len(known), 1)
        self.assertEqual(len(probs), 1)
        self.assertTrue(probs[0].startswith("2 comm"))

    def test_saved_file_names(self):
        gone = "/nonexistent-crest-audit/bin"
        here = os.path.abspath(__file__)
        v = "7f00-7f01 r--p 00000000 fe:00 1234 "
        # Deleted since the dump: "PATH (deleted)" is the truth now.
        b = {"1": {"link:exe": gone, "vma:7f00": v + gone}}
        a = {"1": {"link:exe": gone + " (deleted)",
                   "vma:7f00": v.replace("1234", "new") + gone + " (deleted)"}}
        self.assertEqual(audit.compare(b, a), ([], []))
        # Gone but shown under another name: a failure.
        a = {"1": {"link:exe": "/nonexistent-crest-audit/#99 (deleted)"}}
        probs, _ = audit.compare({"1": {"link:exe": gone}}, a)
        self.assertEqual(len(probs), 1)
        # Another file holds the path: the anonymous copy is documented
        # and warned of at restore, taken as it is.
        a = {"1": {"link:exe": os.path.dirname(here) + "/#99 (deleted)"}}
        probs, known = audit.compare({"1": {"link:exe": here}}, a)
        self.assertEqual((len(probs), len(known)), (0, 0))
        # Still there: "(deleted)" is a failure.
        probs, _ = audit.compare({"1": {"fd:3": here}},
                                 {"1": {"fd:3": here + " (deleted)"}})
        self.assertEqual(len(probs), 1)

    def test_rss_bound(self):
        b = {"1": {"status:VmRSS": "1000 kB"}}
        self.assertEqual(audit.compare(b, {"1": {"status:VmRSS": "900 kB"}}), ([], []))
        probs, _ = audit.compare(b, {"1": {"status:VmRSS": "100000 kB"}})
        self.assertEqual(len(probs), 1)


class Parse(unittest.TestCase):
    def test_stat(self):
        st = audit.parse_stat("12 (a b) c) S 1 12 12 0 -1 4194368 " + "0 " * 45)
        self.assertEqual(st["comm"], "a b) c")
        self.assertEqual(st["state"], "S")
        self.assertEqual(st["run_state"], "running")
        # PF_FORKNOEXEC (0x40) is masked: 4194368 = 0x400040
        self.assertEqual(st["flags"], "0x400000")

    def test_smaps_merges_accounting_split(self):
        text = ("1000-2000 r--p 00000000 fe:00 5 /lib/x\n"
                "VmFlags: rd mr mw me\n"
                "2000-3000 r--p 00001000 fe:00 5 /lib/x\n"
                "VmFlags: rd mr mw me ac\n"
                "3000-4000 rw-p 00000000 00:00 0 \n"
                "VmFlags: rd wr mr mw me ac lo\n")
        m = audit.parse_smaps(text)
        self.assertEqual(sorted(m), ["1000", "3000"])
        self.assertEqual(m["1000"][2], "part")
        self.assertEqual(m["3000"][1], "lo me mr mw rd wr")

    def test_fdinfo(self):
        info = ("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t123\n"
                "lock:\t1: POSIX  ADVISORY  WRITE 99 fe:00:5 0 EOF\n")
        f = audit.parse_fdinfo(info, None)
        self.assertEqual(f["flags"], "02")
        self.assertNotIn("ino", f)
        self.assertEqual(f["lock1"], "POSIX ADVISORY WRITE 99 fe:00:5 0 EOF")

    def test_fdinfo_inotify(self):
        info = ("pos:\t0\nflags:\t00\n"
                "inotify wd:3 ino:a sdev:fe00000 mask:2 ignored_mask:0 "
                "fhandle-bytes:8 fhandle-type:1 f_handle:0a00000000000000\n"
                "inotify wd:1 ino:b sdev:fe00000 mask:100 ignored_mask:0 "
                "fhandle-bytes:8 fhandle-type:1 f_handle:0b00000000000000\n")
        f = audit.parse_fdinfo(info, None)
        self.assertEqual(sorted(k for k in f if k.startswith("inotify")),
                         ["inotify:wd:1", "inotify:wd:3"])
        self.assertTrue(f["inotify:wd:3"].startswith("wd:3 ino:a "))

    def test_fdinfo_fanotify(self):
        info = ("pos:\t0\nflags:\t02\n"
                "fanotify flags:3 event-flags:8000\n"
                "fanotify sdev:1b mflags:0 mask:8 ignored_mask:0\n"
                "fanotify mnt_id:1e mflags:0 mask:8 ignored_mask:0\n"
                "fanotify ino:a sdev:fe00000 mflags:40 mask:0 ignored_mask:2 "
                "fhandle-bytes:8 fhandle-type:1 f_handle:0a00000000000000\n")
        f = audit.parse_fdinfo(info, None)
        self.assertEqual(sorted(k for k in f if k.startswith("fanotify")),
                         ["fanotify:flags:3", "fanotify:ino:a",
                          "fanotify:mnt_id:1e", "fanotify:sdev:1b"])


class DeletedInodes(unittest.TestCase):
    """Two fds on one deleted inode that come back on two (a FIFO held
    open and with O_PATH made twice) differ, though their links agree."""

    FDS = (200, 201)

    def _snap(self, kind, one):
        import tempfile
        d = tempfile.mkdtemp(prefix="crest-audit-")
        path = os.path.join(d, "node")
        try:
            fds = []
            for flags in (os.O_RDWR | os.O_NONBLOCK, os.O_PATH):
                if not fds or not one:
                    if kind == "fifo":
                        os.mkfifo(path, 0o600)
                    else:
                        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                fd = os.open(path, flags)
                os.dup2(fd, self.FDS[len(fds)])
                os.close(fd)
                fds.append(self.FDS[len(fds)])
                if not one:
                    os.unlink(path)
            if one:
                os.unlink(path)
            snap = audit.snapshot([os.getpid()])[str(os.getpid())]
            return {k: v for k, v in snap.items()
                    if k.split(":")[:2] in (["fd", "200"], ["fd", "201"])}
        finally:
            for fd in self.FDS:
                try:
                    os.close(fd)
                except OSError:
                    pass
            os.rmdir(d)

    def test_two_inodes_differ(self):
        for kind in ("fifo", "file"):
            one, two = self._snap(kind, True), self._snap(kind, False)
            self.assertEqual(one["fd:200:inode"], one["fd:201:inode"])
            self.assertNotEqual(two["fd:200:inode"], two["fd:201:inode"])
            # The links name one path either way: the inode tells them apart.
            self.assertEqual(one["fd:201"].split("/")[-1], two["fd:201"].split("/")[-1])
            probs, _ = audit.compare({"1": one}, {"1": two}, extra_ignored=[
                (r"fd:\d+$", "another temporary directory")])
            self.assertTrue(any("fd:201:inode" in p for p in probs), probs)


if __name__ == "__main__":
    unittest.main()
