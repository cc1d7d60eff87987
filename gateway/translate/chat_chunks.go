package translate

import "strconv"

// chatChunks writes the OpenAI chat.completion.chunk events of a stream
// translated into chat (from Anthropic or Gemini): the chunk head is built
// once per stream, and one buffer is reused for every chunk.
type chatChunks struct {
	model        string
	includeUsage bool
	head         []byte // data: {…,"choices":[
	buf          []byte
	emit         func([]byte) error
}

// startChunks builds the head for completion id and sends the role chunk.
func (c *chatChunks) startChunks(id string) error {
	h := append([]byte("data: "), `{"id":`...)
	h = appendString(h, id)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, now().Unix(), 10)
	h = append(h, `,"model":`...)
	h = appendString(h, c.model)
	c.head = append(h, `,"choices":[`...)
	return c.chunk(append(c.begin(), `{"role":"assistant","content":""}`...), "")
}

// begin starts a chunk in c.buf, up to its delta.
func (c *chatChunks) begin() []byte {
	return append(append(c.buf[:0], c.head...), `{"index":0,"delta":`...)
}

// chunk ends the chunk begun in b with finish ("" for null) and writes it.
func (c *chatChunks) chunk(b []byte, finish string) error {
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, finish)
	}
	b = append(b, `}]`...)
	if c.includeUsage {
		b = append(b, `,"usage":null`...)
	}
	c.buf = append(b, "}\n\n"...)
	return c.emit(c.buf)
}

// end sends the usage chunk (when asked for; usage is its JSON) and
// data: [DONE].
func (c *chatChunks) end(usage []byte) error {
	if c.includeUsage {
		c.buf = append(append(append(c.buf[:0], c.head...), `],"usage":`...), usage...)
		if err := c.emit(append(c.buf, "}\n\n"...)); err != nil {
			return err
		}
	}
	return c.emit([]byte("data: [DONE]\n\n"))
}
