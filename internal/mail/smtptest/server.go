package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how clients connect.
type Mode int

const (
	// Plain offers no TLS.
	Plain Mode = iota
	// StartTLS offers STARTTLS (and AUTH only after it).
	StartTLS
	// Implicit is TLS from the first byte (smtps).
	Implicit
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// Username and Password, when set, are required through AUTH PLAIN.
	Username, Password string
}

// Received is one accepted message.
type Received struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	// Mail delivers each accepted message (buffered; a test that expects
	// more than 64 unread messages must read as it goes).
	Mail chan Received
	// ClientTLS trusts the server's certificate (nil in Plain mode).
	ClientTLS *tls.Config

	opts     Options
	refusing atomic.Bool
	accepted atomic.Int64
}

// Start starts a server on 127.0.0.1 that stops when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Mail: make(chan Received, 64), opts: opts}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.ErrorLog = discardLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Mode != Plain {
		serverTLS, clientTLS := certificates(t)
		s.ClientTLS = clientTLS
		srv.TLSConfig = serverTLS
		if opts.Mode == Implicit {
			ln = tls.NewListener(ln, serverTLS)
		}
	} else {
		srv.AllowInsecureAuth = true
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Serve may not have registered ln yet when a test ends at once;
		// closing it ourselves ends Accept either way.
		ln.Close()
		<-done
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Refuse makes the server answer DATA with a temporary failure (451)
// while on.
func (s *Server) Refuse(on bool) { s.refusing.Store(on) }

// Accepted counts the messages accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

type session struct {
	srv    *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.srv.opts.Username || password != ss.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	if ss.srv.refusing.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.srv.accepted.Add(1)
	ss.srv.Mail <- Received{From: ss.from, To: append([]string(nil), ss.to...), Data: b.Bytes()}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
func (discardLogger) Println(...interface{})        {}

// certificates makes a throwaway CA-less self-signed certificate for
// 127.0.0.1 and localhost, and a client config that trusts only it.
func certificates(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// ErrNoMail is Wait's error when nothing arrives in time.
var ErrNoMail = errors.New("smtptest: no mail arrived")

// Wait returns the next message, failing t when none arrives within
// timeout (an upper bound for a broken test, not a pause).
func (s *Server) Wait(t testing.TB, timeout time.Duration) Received {
	t.Helper()
	select {
	case m := <-s.Mail:
		return m
	case <-time.After(timeout):
		t.Fatal(ErrNoMail)
		return Received{}
	}
}
