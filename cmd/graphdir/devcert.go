package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// runDevCert writes a self-signed certificate for localhost, so that Graph
// clients (which send tokens only over https) can be tried locally.
func runDevCert(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devcert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("GRAPHDIR_STATE_DIR")
	if def == "" {
		def = ".graphdir"
	}
	dir := fs.String("dir", filepath.Join(def, "tls"), "directory for cert.pem and key.pem")
	force := fs.Bool("force", false, "replace an existing certificate")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	certFile, keyFile := filepath.Join(*dir, "cert.pem"), filepath.Join(*dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil && !*force {
		fmt.Fprintf(stdout, "%s already exists (use --force to replace it)\n", certFile)
		return nil
	}
	certPEM, keyPEM, err := selfSignedCert([]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, 365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\nTrust it in Node with NODE_EXTRA_CA_CERTS=%s, or curl --cacert %s\n", certFile, keyFile, certFile, certFile)
	return nil
}

// selfSignedCert returns PEM blocks of a P-256 certificate valid for the
// given names, usable both as the server certificate and as its own CA.
func selfSignedCert(dnsNames []string, ips []net.IP, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "graphdir development certificate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}
