package collector

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The type table against Kamailio's own sources (the release its sources
// cite, 6.1.4, from ../shared/kamailio or $KAMAILIO_SOURCES): each row
// whose cited file is in the archive cites a line that names the
// statistic (its name, or the variable or function its declaration binds
// it to, or a line of that function, or an identifier that function reads),
// and every statistic the archive's modules declare has a row. The archive
// keeps the modules the tests load; rows of the other modules cite files it
// does not hold and are only counted.
func TestStatTypesAgainstKamailioSources(t *testing.T) {
	dir := os.Getenv("KAMAILIO_SOURCES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "kamailio")
	}
	archive := filepath.Join(dir, "kamailio-6.1.4.tar.gz")
	src, err := readSources(archive)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no Kamailio sources at %s (the test suite has them beside the checkout)", archive)
	}
	if err != nil {
		t.Fatal(err)
	}
	ks := indexSources(src)
	rows := tableRows(t)
	names := map[string]bool{}
	checked, elsewhere := 0, 0
	for _, r := range rows {
		_, name, _ := strings.Cut(r.stat, ".")
		names[name] = true
		path, n, _ := strings.Cut(r.source, ":")
		line, err := strconv.Atoi(n)
		lines, ok := ks.lines[path]
		if !ok {
			elsewhere++ // a module the archive does not keep
			continue
		}
		if err != nil || line < 1 || line > len(lines) {
			t.Errorf("%s: source %q is not a line of %s", r.stat, r.source, path)
			continue
		}
		checked++
		if !ks.names(name, path, line) {
			t.Errorf("%s: %s does not name it: %q", r.stat, r.source, strings.TrimSpace(lines[line-1]))
		}
	}
	for name, file := range ks.declared {
		if !names[name] {
			t.Errorf("statistic %q, declared in %s, has no row in stat_types.tsv", name, file)
		}
	}
	if checked < 150 || len(ks.declared) < 100 {
		t.Errorf("only %d rows checked, %d declarations found: the sources are not what the test expects", checked, len(ks.declared))
	}
	t.Logf("%d rows checked against %s, %d cite modules it does not keep; %d statistics declared there",
		checked, filepath.Base(archive), elsewhere, len(ks.declared))
}

type tableRow struct{ stat, typ, source string }

// tableRows reads stat_types.tsv's rows.
func tableRows(t *testing.T) []tableRow {
	t.Helper()
	b, err := os.ReadFile("stat_types.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var rows []tableRow
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if line == "" || strings.HasPrefix(line, "#") || f[0] == "statistic" || len(f) < 3 {
			continue
		}
		rows = append(rows, tableRow{f[0], f[1], f[2]})
	}
	return rows
}

// readSources returns the C sources (.c, .h) of a Kamailio source archive,
// by their path below its top folder.
func readSources(archive string) (map[string]string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		_, path, _ := strings.Cut(h.Name, "/")
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(path, "src/") ||
			!strings.HasSuffix(path, ".c") && !strings.HasSuffix(path, ".h") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[path] = string(b)
	}
}

// kamailioSources is what the test reads of Kamailio's sources.
type kamailioSources struct {
	lines map[string][]string
	// binds: a statistic's name → the variables and functions its
	// declarations bind it to.
	binds map[string][]string
	// funcs: a function's name → where its definitions are.
	funcs map[string][]span
	// declared: every statistic a declaration names → its file.
	declared map[string]string
}

type span struct {
	path        string
	first, last int // lines, from 1
}

var (
	cComment = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	// {"name", flags, &var} or {"name", STAT_IS_FUNC, (stat_var**)func}
	statExport = regexp.MustCompile(`\{\s*"([^"]+)"\s*,\s*[^,{}]*,\s*(?:\(\s*stat_var\s*\*+\s*\)\s*)?&?\s*([\w.>-]+)\s*\}`)
	// counter_def_t: {&handle, "name", flags, getter, ...}
	counterDef = regexp.MustCompile(`\{\s*&?\s*([\w.>-]+)\s*,\s*"([^"]+)"\s*,\s*[^,]*,\s*(\w+)`)
	// register_stat(module, "name", &var or (stat_var**)func, flags)
	registerStat = regexp.MustCompile(`register_stat\s*\(\s*[^,]+,\s*"([^"]+)"\s*,\s*(?:\(\s*stat_var\s*\*+\s*\)\s*)?&?\s*(\w+)`)
	// counter_register(&handle, "group", "name", ...)
	counterRegister = regexp.MustCompile(`counter_register\s*\(\s*&\s*(\w+)\s*,\s*"[^"]*"\s*,\s*"([^"]+)"`)
	// the statistics arrays: stat_export_t and counter_def_t, to their {0…} end
	statArray  = regexp.MustCompile(`(?s)(stat_export_t|counter_def_t)\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\{\s*0`)
	arrayName  = regexp.MustCompile(`\{\s*"([^"]+)"`)
	counterNam = regexp.MustCompile(`\{\s*[^,]*,\s*"([^"]+)"`)
	funcHead   = regexp.MustCompile(`^[A-Za-z_][\w\s*]*?\b(\w+)\s*\([^;]*$`)
	identifier = regexp.MustCompile(`[A-Za-z_]\w*`)
	// VAR_NAME(method)[class]: core.rcv_replies_<class>_<method>
	replyByMethod = regexp.MustCompile(`^rcv_replies_[0-9x]{3}_(\w+)$`)
)

func indexSources(src map[string]string) *kamailioSources {
	ks := &kamailioSources{lines: map[string][]string{}, binds: map[string][]string{},
		funcs: map[string][]span{}, declared: map[string]string{}}
	last := func(ref string) string { // the variable of &h.var, h->var
		return ref[strings.LastIndexAny(ref, ".>")+1:]
	}
	for path, text := range src {
		lines := strings.Split(text, "\n")
		ks.lines[path] = lines
		code := cComment.ReplaceAllString(text, "")
		for _, m := range statExport.FindAllStringSubmatch(code, -1) {
			ks.binds[m[1]] = append(ks.binds[m[1]], last(m[2]))
		}
		for _, m := range counterDef.FindAllStringSubmatch(code, -1) {
			ks.binds[m[2]] = append(ks.binds[m[2]], last(m[1]), m[3])
		}
		for _, m := range registerStat.FindAllStringSubmatch(code, -1) {
			ks.binds[m[1]] = append(ks.binds[m[1]], m[2])
			ks.declared[m[1]] = path
		}
		for _, m := range counterRegister.FindAllStringSubmatch(code, -1) {
			ks.binds[m[2]] = append(ks.binds[m[2]], m[1])
			ks.declared[m[2]] = path
		}
		for _, a := range statArray.FindAllStringSubmatch(code, -1) {
			re := arrayName
			if a[1] == "counter_def_t" {
				re = counterNam
			}
			for _, m := range re.FindAllStringSubmatch(a[2], -1) {
				ks.declared[m[1]] = path
			}
		}
		// Function definitions: a head without ';', its body to the
		// brace that closes it.
		for i := 0; i < len(lines); i++ {
			m := funcHead.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			j := i
			for j < len(lines) && j < i+4 && !strings.Contains(lines[j], "{") {
				j++
			}
			if j >= len(lines) || !strings.Contains(lines[j], "{") {
				continue
			}
			depth, k := 0, j
			for ; k < len(lines); k++ {
				depth += strings.Count(lines[k], "{") - strings.Count(lines[k], "}")
				if depth <= 0 && strings.Contains(lines[k], "}") {
					break
				}
			}
			ks.funcs[m[1]] = append(ks.funcs[m[1]], span{path, i + 1, k + 1})
		}
	}
	return ks
}

// names reports whether line of path names the statistic name.
func (ks *kamailioSources) names(name, path string, line int) bool {
	text := ks.lines[path][line-1]
	parts := strings.Split(strings.ReplaceAll(name, "[*]", "*"), "*")
	all := true
	for _, p := range parts {
		if p = strings.Trim(p, "_"); p != "" && !strings.Contains(text, p) {
			all = false
		}
	}
	if all {
		return true
	}
	if m := replyByMethod.FindStringSubmatch(name); m != nil &&
		strings.Contains(strings.ReplaceAll(text, " ", ""), "VAR_NAME("+m[1]+")") {
		return true
	}
	words := idents(text)
	for _, sym := range ks.binds[name] {
		if words[sym] {
			return true
		}
		for _, f := range ks.funcs[sym] {
			if f.path == path && f.first <= line && line <= f.last {
				return true // a line of the function that gives its value
			}
			body := strings.Join(ks.lines[f.path][f.first-1:f.last], "\n")
			_, body, _ = strings.Cut(body, "{")
			for w := range idents(body) {
				if words[w] {
					return true // it updates what that function reads
				}
			}
		}
	}
	return false
}

// cWords are C keywords and names too common to tie a line to a statistic.
var cWords = map[string]bool{"return": true, "unsigned": true, "long": true, "void": true, "static": true,
	"const": true, "char": true, "struct": true, "while": true, "switch": true, "case": true, "break": true,
	"default": true, "sizeof": true, "NULL": true, "stat_var": true, "get_stat_val": true,
	"update_stat": true, "counter_get_val": true, "else": true}

// idents returns the identifiers of text of four or more characters, but
// C's words.
func idents(text string) map[string]bool {
	out := map[string]bool{}
	for _, w := range identifier.FindAllString(text, -1) {
		if len(w) >= 4 && !cWords[w] {
			out[w] = true
		}
	}
	return out
}
