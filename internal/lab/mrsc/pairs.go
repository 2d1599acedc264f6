package mrsc

import "fmt"

// CutPair cuts the links between members a and b only, both directions
// (requests refused, those in flight cancelled), as Isolate does for all
// of a member's links. Cutting a pair already cut does nothing.
func (c *Cluster) CutPair(a, b string) error {
	if err := c.checkPair(a, b); err != nil {
		return err
	}
	c.peers.cutKeys(pairKeys(a, b))
	return nil
}

// RestorePair restores the links between members a and b, both
// directions, whatever cut them (CutPair or Isolate of either).
func (c *Cluster) RestorePair(a, b string) error {
	if err := c.checkPair(a, b); err != nil {
		return err
	}
	return c.peers.restoreKeys(pairKeys(a, b))
}

func (c *Cluster) checkPair(a, b string) error {
	for _, n := range []string{a, b} {
		if _, ok := c.members[n]; !ok {
			return fmt.Errorf("mrsc: no member %q", n)
		}
	}
	if a == b {
		return fmt.Errorf("mrsc: a pair needs two members, got %q twice", a)
	}
	return nil
}

// pairKeys are the keys of the pair of a and b, both directions.
func pairKeys(a, b string) []string { return []string{pairKey(a, b), pairKey(b, a)} }

// PairCut reports whether the links between members a and b are cut, in
// either direction, by CutPair or Isolate.
func (c *Cluster) PairCut(a, b string) bool {
	c.peers.mu.Lock()
	defer c.peers.mu.Unlock()
	return c.peers.cutPairs[pairKey(a, b)] || c.peers.cutPairs[pairKey(b, a)]
}
