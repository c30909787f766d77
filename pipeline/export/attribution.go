package export

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Every export ships ATTRIBUTION.md (R-LIC-3): each source repository that
// contributed a record, with its URL, commits, licence, record count, the
// copyright lines of its licence files and its Apache NOTICE file. A
// directory format has it inside the directory; a file export has it beside
// the file, as ATTRIBUTION.md unless that name holds something else (a
// file cicdllm did not write, or the attribution of another export in the
// same directory), then as <output name>.ATTRIBUTION.md.

// AttributionFile is the attribution's name.
const AttributionFile = "ATTRIBUTION.md"

// Notices is what a source repository's own files ask to be reproduced.
type Notices struct {
	Copyright []string // copyright lines of its root licence files, in order, without repeats
	Notice    string   // its root NOTICE file (Apache-2.0 section 4(d)); "" when it has none
}

// NoticeReader reads a source repository's Notices from its clone at dir
// at the given commits (pipeline.ReadNotices).
type NoticeReader func(dir string, commits []string) (Notices, error)

// attributionMarker is the first line of an attribution cicdllm writes for
// the output named base.
func attributionMarker(base string) string {
	return "<!-- cicdllm attribution " + strconv.Quote(base) + " -->"
}

// attributionName picks the attribution's file name beside a file export:
// ATTRIBUTION.md when it is free or this output's own, else
// <base>.ATTRIBUTION.md under the same condition.
func attributionName(output string) (string, error) {
	dir, base := filepath.Dir(output), filepath.Base(output)
	names := []string{AttributionFile, base + "." + AttributionFile}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			return name, nil // absent (or unreachable: writing the export reports that)
		}
		if first, err := firstLine(p); err == nil && first == attributionMarker(base) {
			return name, nil
		}
	}
	return "", fmt.Errorf("%s and %s exist in %s and are not this export's attribution; move one of them so the export can write its attribution",
		names[0], names[1], dir)
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	r := bufio.NewReader(f)
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "", nil
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// renderAttribution writes ATTRIBUTION.md for the export named base.
// notices holds what was read per source name; a source missing from it
// could not be read; a nil map means no notices were read at all.
func renderAttribution(base string, sources []Source, notices map[string]Notices) []byte {
	var b strings.Builder
	b.WriteString(attributionMarker(base) + "\n")
	b.WriteString("# Attribution\n\n")
	total := 0
	for _, s := range sources {
		total += s.Records
	}
	fmt.Fprintf(&b, "Source repositories of the export `%s` (%d records from %d repositories), written by cicdllm. "+
		"Its records are questions and answers a language model generated from the files of these repositories, and they may "+
		"quote those files: quoted material remains under its repository's licence and copyright. Keep this file with the data "+
		"when you share it.\n\n", strings.ReplaceAll(base, "`", "'"), total, len(sources))
	if len(sources) == 0 {
		b.WriteString("No record was exported, so no source repository is listed.\n")
		return []byte(b.String())
	}
	if notices == nil {
		b.WriteString("Copyright lines and NOTICE files were not collected for this export: take them from each repository " +
			"at the commit listed.\n\n")
	}
	b.WriteString("| Repository | Licence | Records |\n|---|---|---:|\n")
	for _, s := range sources {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", mdCell(s.Name), mdCell(sourceLicense(s.License)), s.Records)
	}
	for _, s := range sources {
		fmt.Fprintf(&b, "\n## %s\n\n", mdHeading(s.Name))
		fmt.Fprintf(&b, "- URL: %s\n", mdCell(s.URL))
		if s.Commit != "" {
			fmt.Fprintf(&b, "- Commit: `%s`\n", mdCell(s.Commit))
		}
		if len(s.Commits) > 1 {
			others := make([]string, 0, len(s.Commits)-1)
			for _, c := range s.Commits[1:] {
				others = append(others, "`"+mdCell(c)+"`")
			}
			fmt.Fprintf(&b, "- Other commits of its records: %s\n", strings.Join(others, ", "))
		}
		fmt.Fprintf(&b, "- Licence: %s\n", mdCell(sourceLicense(s.License)))
		fmt.Fprintf(&b, "- Records: %d\n", s.Records)
		n, ok := notices[s.Name]
		switch {
		case notices == nil:
			continue
		case !ok:
			b.WriteString("\nIts licence files could not be read (no clone, or the clone lacks these commits); " +
				"take its copyright notices from the repository at the commit above.\n")
			continue
		case len(n.Copyright) == 0:
			b.WriteString("\nNo copyright line was found in its licence files.\n")
		default:
			b.WriteString("\nCopyright lines of its licence files:\n\n")
			writeFenced(&b, strings.Join(n.Copyright, "\n"))
		}
		if n.Notice != "" {
			b.WriteString("\nIts NOTICE file:\n\n")
			writeFenced(&b, n.Notice)
		}
	}
	return []byte(b.String())
}

func sourceLicense(l string) string {
	if unknownLicense(l) {
		return "NOASSERTION"
	}
	return l
}

var backtickRun = regexp.MustCompile("`+")

// writeFenced writes text as a fenced block whose fence is longer than
// any run of backticks in it.
func writeFenced(b *strings.Builder, text string) {
	fence := 3
	for _, run := range backtickRun.FindAllString(text, -1) {
		fence = max(fence, len(run)+1)
	}
	f := strings.Repeat("`", fence)
	fmt.Fprintf(b, "%stext\n%s\n%s\n", f, strings.TrimRight(text, "\n"), f)
}

// mdHeading makes s safe as the text of a Markdown heading.
func mdHeading(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	if s == "" {
		return "–"
	}
	return s
}
