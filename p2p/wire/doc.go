// Package wire defines the bytes that travel on Ciro's libp2p topics and DHT records: the signed
// envelope shared by every message, and the schemas of provider adverts, order announcements and
// consensus-address records. Its decoders face untrusted input: they bound every length, reject
// trailing bytes and unknown fields, and never allocate more than the input allows.
//
// It knows the shape of messages, never their meaning: whether a tx is valid or an order is
// affordable is decided by the checks the node injects into package p2p.
package wire
