package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Parsed is a received message taken apart.
type Parsed struct {
	Header mail.Header
	// Subject is decoded (RFC 2047).
	Subject string
	// Text and HTML are the decoded bodies of the text/plain and text/html
	// parts of a multipart/alternative message (or of a single-part one).
	Text, HTML string
	// ContentType is the top-level media type.
	ContentType string
}

// Parse decodes r's message.
func (r Received) Parse() (Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Header: msg.Header}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Parsed{}, err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Parsed{}, err
	}
	p.ContentType = mt
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := decode(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return Parsed{}, err
		}
		p.setPart(mt, body)
		return p, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Parsed{}, err
		}
		pt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return Parsed{}, err
		}
		body, err := decode(part, part.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return Parsed{}, err
		}
		p.setPart(pt, body)
	}
	return p, nil
}

func (p *Parsed) setPart(mt, body string) {
	switch mt {
	case "text/plain":
		p.Text = body
	case "text/html":
		p.HTML = body
	}
}

func decode(r io.Reader, cte string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: r})
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("smtptest: transfer encoding %q", cte)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// crlfStripper drops line breaks, which base64 bodies carry every 76 characters.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
