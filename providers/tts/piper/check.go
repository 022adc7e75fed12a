package piper

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// sherpa-onnx ends the process, rather than failing, on a model without its
// metadata or a malformed tokens.txt; these checks turn both into errors.

// metadataKeys are the keys sherpa-onnx's VITS loader requires.
var metadataKeys = []string{"sample_rate", "n_speakers", "language", "comment"}

// metadataTail is how much of model.onnx's end is searched for them: ONNX
// writes a model's metadata after its graph.
const metadataTail = 64 << 10

func checkVoice(dir string) error {
	if err := checkTokens(filepath.Join(dir, "tokens.txt")); err != nil {
		return err
	}
	return checkMetadata(filepath.Join(dir, "model.onnx"))
}

func checkMetadata(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("piper: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("piper: %w", err)
	}
	off := max(fi.Size()-metadataTail, 0)
	tail := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && err != io.EOF {
		return fmt.Errorf("piper: reading %s: %w", path, err)
	}
	var missing []string
	for _, k := range metadataKeys {
		if !bytes.Contains(tail, []byte(k)) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("piper: %s has no sherpa-onnx metadata %s (prepare the voice with scripts/models.sh)",
			path, strings.Join(missing, ", "))
	}
	return nil
}

// checkTokens checks tokens.txt: one "symbol id" a line, the symbol one
// character (a line of only an id is the space), and the pad, start and end
// symbols Piper's phoneme IDs need.
func checkTokens(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("piper: %w", err)
	}
	defer f.Close()
	seen := map[rune]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		sym, id, ok := strings.Cut(line, " ")
		if !ok || sym == "" {
			sym, id = " ", strings.TrimSpace(line)
		}
		r, size := utf8.DecodeRuneInString(sym)
		if _, err := strconv.Atoi(id); err != nil || size != len(sym) || r == utf8.RuneError || seen[r] {
			return fmt.Errorf("piper: %s line %d: %q is not a new symbol and its id", path, n, line)
		}
		seen[r] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("piper: reading %s: %w", path, err)
	}
	for _, r := range "_^$" {
		if !seen[r] {
			return fmt.Errorf("piper: %s has no symbol %q", path, r)
		}
	}
	return nil
}
