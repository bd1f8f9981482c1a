package session

import "encoding/json"

// Codec encodes session values. Set calls Encode at once, so an encoding
// error reaches the caller of Set; Get calls Decode into the caller's type.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte, v any) error
}

// JSON is the default Codec: what a server-side store holds stays readable
// from other languages, and no type needs registering.
type JSON struct{}

// Encode implements Codec.
func (JSON) Encode(v any) ([]byte, error) { return json.Marshal(v) }

// Decode implements Codec.
func (JSON) Decode(data []byte, v any) error { return json.Unmarshal(data, v) }
