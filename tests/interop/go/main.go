// Command tlogcheck verifies a sequester audit log with Go's own transparency-log
// packages only (golang.org/x/mod/sumdb/note and sumdb/tlog): the served checkpoint's
// signature, every tile it reads against the tree hash, consistency with a kept
// checkpoint, and one audit record's inclusion, its leaf rebuilt from the fields that
// /audit/events/{id}/proof serves (the README's leaf format).
//
//	tlogcheck -url URL -vkey VERIFIER_KEY [-kept FILE]    (token in $SEQUESTER_TOKEN)
//
// It prints one line starting "verified" and exits 0, or names the failure and exits 1.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type client struct{ base, token string }

func (c client) get(path string) ([]byte, error) {
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// tiles reads C2SP tlog-tiles: Go's path "tile/8/L/N" is "tile/L/N" there.
type tiles struct{ c client }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(wanted []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(wanted))
	for i, tile := range wanted {
		body, err := t.c.get("/audit/log/tile/" + strings.TrimPrefix(tile.Path(), "tile/8/"))
		if err != nil {
			return nil, err
		}
		data[i] = body
	}
	return data, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func openCheckpoint(msg []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, errors.New("a checkpoint has origin, size and root lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, err
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, errors.New("the checkpoint root is not a base64 SHA-256 hash")
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: hash}}, nil
}

type leafFields struct {
	Format            string `json:"format"`
	NotificationID    uint64 `json:"notification_id"`
	OriginatorID      string `json:"originator_id"`
	OriginatorVersion int64  `json:"originator_version"`
	Topic             string `json:"topic"`
	StateSHA256       string `json:"state_sha256"`
}

// leafData is the README's leaf format, byte for byte.
func leafData(f leafFields) ([]byte, error) {
	id, err := hex.DecodeString(strings.ReplaceAll(f.OriginatorID, "-", ""))
	if err != nil || len(id) != 16 {
		return nil, errors.New("originator_id is not a UUID")
	}
	state, err := hex.DecodeString(f.StateSHA256)
	if err != nil || len(state) != 32 {
		return nil, errors.New("state_sha256 is not a SHA-256 hash")
	}
	var b bytes.Buffer
	b.WriteString(f.Format + "\x00")
	binary.Write(&b, binary.BigEndian, f.NotificationID)
	b.Write(id)
	binary.Write(&b, binary.BigEndian, f.OriginatorVersion)
	binary.Write(&b, binary.BigEndian, uint32(len(f.Topic)))
	b.WriteString(f.Topic)
	b.Write(state)
	return b.Bytes(), nil
}

type recordProof struct {
	LeafIndex int64      `json:"leaf_index"`
	Leaf      leafFields `json:"leaf"`
	LeafHash  string     `json:"leaf_hash"`
	TreeSize  int64      `json:"tree_size"`
	Inclusion []string   `json:"inclusion_proof"`
}

func hashes(hexes []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hexes))
	for i, h := range hexes {
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, errors.New("a proof hash is not 32 bytes of hex")
		}
		copy(out[i][:], raw)
	}
	return out, nil
}

// checkRecord proves the newest listed audit record that the checkpoint covers.
func checkRecord(c client, head checkpoint, hr tlog.HashReader) (int64, error) {
	body, err := c.get("/audit/events?limit=500")
	if err != nil {
		return 0, err
	}
	var events struct {
		Items []struct {
			RecordID  string `json:"record_id"`
			LeafIndex *int64 `json:"leaf_index"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &events); err != nil {
		return 0, err
	}
	id, index := "", int64(-1)
	for _, item := range events.Items {
		if item.LeafIndex != nil && *item.LeafIndex < head.tree.N {
			id, index = item.RecordID, *item.LeafIndex
		}
	}
	if index < 0 {
		return 0, errors.New("no listed audit record is covered by the checkpoint")
	}
	body, err = c.get(fmt.Sprintf("/audit/events/%s/proof?size=%d", id, head.tree.N))
	if err != nil {
		return 0, err
	}
	var proof recordProof
	if err := json.Unmarshal(body, &proof); err != nil {
		return 0, err
	}
	data, err := leafData(proof.Leaf)
	if err != nil {
		return 0, err
	}
	leaf := tlog.RecordHash(data)
	if proof.LeafIndex != index || hex.EncodeToString(leaf[:]) != proof.LeafHash {
		return 0, fmt.Errorf("record %s: the served leaf index or hash is not its own", id)
	}
	stored, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
	if err != nil {
		return 0, err
	}
	if stored[0] != leaf {
		return 0, fmt.Errorf("record %s: its rebuilt leaf is not leaf %d of the tiles", id, index)
	}
	ours, err := tlog.ProveRecord(head.tree.N, index, hr)
	if err != nil {
		return 0, err
	}
	if err := tlog.CheckRecord(ours, head.tree.N, head.tree.Hash, index, leaf); err != nil {
		return 0, fmt.Errorf("record %s: %v", id, err)
	}
	served, err := hashes(proof.Inclusion)
	if err != nil {
		return 0, err
	}
	if err := tlog.CheckRecord(served, head.tree.N, head.tree.Hash, index, leaf); err != nil {
		return 0, fmt.Errorf("record %s: the served inclusion proof: %v", id, err)
	}
	return index, nil
}

func checkKept(path string, c client, head checkpoint, verifier note.Verifier, hr tlog.HashReader) (int64, error) {
	msg, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	kept, err := openCheckpoint(msg, verifier)
	if err != nil {
		return 0, fmt.Errorf("the kept checkpoint: %v", err)
	}
	if kept.origin != head.origin {
		return 0, fmt.Errorf("the kept checkpoint is of log %q, the served one of %q", kept.origin, head.origin)
	}
	proof, err := tlog.ProveTree(head.tree.N, kept.tree.N, hr)
	if err != nil {
		return 0, err
	}
	if err := tlog.CheckTree(proof, head.tree.N, head.tree.Hash, kept.tree.N, kept.tree.Hash); err != nil {
		return 0, fmt.Errorf("consistency with the kept checkpoint: %v", err)
	}
	if c.token == "" || kept.tree.N == head.tree.N {
		return kept.tree.N, nil
	}
	body, err := c.get(fmt.Sprintf("/audit/proofs/consistency?old=%d&new=%d", kept.tree.N, head.tree.N))
	if err != nil {
		return 0, err
	}
	var served struct {
		Proof []string `json:"proof"`
	}
	if err := json.Unmarshal(body, &served); err != nil {
		return 0, err
	}
	servedProof, err := hashes(served.Proof)
	if err != nil {
		return 0, err
	}
	if err := tlog.CheckTree(servedProof, head.tree.N, head.tree.Hash, kept.tree.N, kept.tree.Hash); err != nil {
		return 0, fmt.Errorf("the served consistency proof: %v", err)
	}
	return kept.tree.N, nil
}

func run() (string, error) {
	base := flag.String("url", "", "the service's base URL")
	vkey := flag.String("vkey", "", "the log's verifier key")
	keptFile := flag.String("kept", "", "a checkpoint kept earlier")
	flag.Parse()
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		return "", err
	}
	c := client{strings.TrimRight(*base, "/"), os.Getenv("SEQUESTER_TOKEN")}
	msg, err := c.get("/audit/log/checkpoint")
	if err != nil {
		return "", err
	}
	head, err := openCheckpoint(msg, verifier)
	if err != nil {
		return "", fmt.Errorf("the served checkpoint: %v", err)
	}
	hr := tlog.TileHashReader(head.tree, tiles{c})
	root, err := tlog.TreeHash(head.tree.N, hr)
	if err != nil {
		return "", err
	}
	if root != head.tree.Hash {
		return "", errors.New("the tiles do not hash to the checkpoint's root")
	}
	line := fmt.Sprintf("verified %s size=%d root=%s", head.origin, head.tree.N, root)
	if *keptFile != "" {
		keptSize, err := checkKept(*keptFile, c, head, verifier, hr)
		if err != nil {
			return "", err
		}
		line += fmt.Sprintf(" kept=%d", keptSize)
	}
	if c.token != "" {
		index, err := checkRecord(c, head, hr)
		if err != nil {
			return "", err
		}
		line += fmt.Sprintf(" record=%d", index)
	}
	return line, nil
}

func main() {
	line, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}
