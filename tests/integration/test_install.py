"""test_install.py: `make install DESTDIR=... PREFIX=/usr` puts leaktop where a Debian system looks
for it, and what it installs works: the binary traces a workload (exact figures, with the installed
default suppressions), the man page reads without warnings, the bash completion completes."""
import os
import re
import shutil
import subprocess
import tempfile

from harness import CONFIG, LeaktopTestCase, parse_report, workload

ROOT = os.path.normpath(os.path.join(CONFIG.src, '..', '..'))
PREFIX = '/usr'


class Install(LeaktopTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix='leaktop-install-')
        # The binary under test (plain or ASan build), by its absolute path: make installs it as it
        # is, with no rule to rebuild it.
        r = subprocess.run(['make', '-s', '-C', ROOT, 'install', 'DESTDIR=' + cls.dest,
                            'PREFIX=' + PREFIX, 'INSTALL_BIN=' + os.path.abspath(CONFIG.leaktop)],
                           capture_output=True, text=True, timeout=120)
        cls.make = r

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest)

    def path(self, rel):
        return os.path.join(self.dest, PREFIX.lstrip('/'), rel)

    def test_layout(self):
        """Every file where PREFIX says, with its mode; the unit runs the installed binary."""
        self.assertEqual(self.make.returncode, 0, self.make.stdout + self.make.stderr)
        expected = {
            'sbin/leaktop': 0o755,
            'share/man/man8/leaktop.8': 0o644,
            'share/bash-completion/completions/leaktop': 0o644,
            'share/leaktop/default.supp': 0o644,
            'share/leaktop/leaktop.rules.yml': 0o644,
            'share/leaktop/leaktop-record.service': 0o644,
        }
        found = {}
        for d, _, files in os.walk(self.dest):
            for f in files:
                p = os.path.join(d, f)
                found[os.path.relpath(p, self.path(''))] = os.stat(p).st_mode & 0o777
        # other parts of leaktop may install more under share/leaktop
        self.assertEqual({k: v for k, v in found.items() if k in expected}, expected, sorted(found))
        with open(self.path('share/leaktop/leaktop-record.service')) as f:
            unit = f.read()
        self.assertIn("ExecStart=/bin/sh -c 'exec /usr/sbin/leaktop record ", unit)
        self.assertNotIn('/usr/local', unit.split('[Unit]')[1])

    def test_installed_binary_traces(self):
        """The installed leaktop traces a workload: exact figures, and the installed default.supp is
        the list compiled in."""
        leaktop = self.path('sbin/leaktop')
        out = os.path.join(self.dest, 'report.json')
        for extra in ([], ['--no-default-suppressions', '--suppressions',
                           self.path('share/leaktop/default.supp')]):
            p = subprocess.run([leaktop, '-f', 'json', '-n', '0', '-o', out, '--error-exitcode', '9'] +
                               extra + ['--', workload('gate'), 'leak'],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 9, p.stderr)
            with open(out) as f:
                rep = parse_report(f.read(), p.stderr)
            self.assertSites(rep, {'leak_one': (4000, 1), 'leak_two': (300, 3)}, module=workload('gate'))
            self.assertEqual(rep.data['suppressed'], {'stacks': 1, 'bytes': 4096, 'allocs': 1})
        p = subprocess.run([leaktop, '--version'], capture_output=True, text=True, timeout=30)
        self.assertRegex(p.stdout, r'^leaktop \d+\.\d+\.\d+\n$')

    def test_man_page(self):
        """man reads the installed page without a warning; mandoc's lint finds nothing; the page
        documents every option of --help, the exit status and examples."""
        page = self.path('share/man/man8/leaktop.8')
        env = dict(os.environ, MANWIDTH='100', MAN_KEEP_FORMATTING='0')
        p = subprocess.run(['man', '--warnings', '-l', page], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual((p.returncode, p.stderr), (0, ''))
        text = re.sub(r'.\x08', '', p.stdout)
        for section in ('NAME', 'SYNOPSIS', 'OPTIONS', 'OUTPUT', 'SUPPRESSIONS', 'EXIT STATUS',
                        'EXAMPLES'):
            self.assertRegex(text, r'(?m)^%s$' % section)
        lint = subprocess.run(['mandoc', '-T', 'lint', '-W', 'warning', page], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual((lint.returncode, lint.stdout, lint.stderr), (0, '', ''))
        helptext = subprocess.run([self.path('sbin/leaktop'), '--help'], capture_output=True,
                                  text=True, timeout=30).stdout
        # the options, not the flags of other tools in the examples (flamegraph.pl --countname)
        options = set(re.findall(r'(?m)^ +(?:-[a-zA-Z], )?(--[a-z][a-z-]+)', helptext))
        self.assertGreater(len(options), 25)
        missing = sorted(o for o in options if o not in text)
        self.assertEqual(missing, [], 'options of --help that the man page does not document')

    def bash_complete(self, *words):
        """The completions bash offers for WORDS (the last one being completed)."""
        script = '''
            [ -f /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
            . "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            _leaktop leaktop "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
        '''
        env = dict(os.environ, PATH=self.path('sbin') + ':' + os.environ.get('PATH', ''))
        p = subprocess.run(['bash', '-c', script, 'complete',
                            self.path('share/bash-completion/completions/leaktop'), 'leaktop'] + list(words),
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [w for w in p.stdout.split('\n') if w]

    def test_completion(self):
        """`leaktop --sup<TAB>` gives --suppressions; `-f <TAB>` every format leaktop takes (as its
        error message for a bad one lists them); --unwind its modes; -p live pids."""
        self.assertEqual(self.bash_complete('--sup'), ['--suppressions'])
        p = subprocess.run([self.path('sbin/leaktop'), '-f', 'nope', '-p', '1'], capture_output=True,
                           text=True, timeout=30)
        m = re.search(r"unknown format 'nope' \(expected (.*)\)", p.stderr)
        self.assertIsNotNone(m, p.stderr)
        formats = m.group(1).split('|')
        self.assertGreaterEqual(len(formats), 4)
        self.assertEqual(sorted(self.bash_complete('-f', '')), sorted(formats))
        self.assertEqual(self.bash_complete('--format', 'js'), ['json'])
        self.assertEqual(self.bash_complete('--unwind', ''), ['fp', 'dwarf', 'auto'])
        pids = self.bash_complete('-p', str(os.getpid()))
        self.assertIn(str(os.getpid()), pids)
        self.assertEqual(self.bash_complete('-p', '1,%d' % os.getpid())[:1], ['1,%d' % os.getpid()])
        # files after --suppressions
        supp = self.path('share/leaktop/default.supp')
        self.assertEqual(self.bash_complete('--suppressions', supp[:-3]), [supp])
