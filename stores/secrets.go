package stores

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// SecretList returns the cluster's secrets, decoded: those of SecretFile
// (read now: call it again to pick up a changed file), else Secrets, else
// Secret as a list of one; nil when none is set. The first is the one the
// worker sends with. Each is standard or URL base64, padded or not. An
// error names the field (and the entry) that is wrong; setting more than
// one of the three is one.
func (c *ClusterConfig) SecretList() ([][]byte, error) {
	field, encoded, err := c.encodedSecrets()
	if err != nil {
		return nil, err
	}
	secrets := make([][]byte, 0, len(encoded))
	for i, e := range encoded {
		s, err := decodeBase64(e)
		if err != nil {
			return nil, invalid("cluster."+c.yamlField(fmt.Sprintf("Secrets[%d]", i)), "is not base64: %v", err)
		}
		secrets = append(secrets, s)
	}
	if len(secrets) == 0 && field == "secretFile" {
		return nil, invalid("cluster.secretFile", "%s holds no secret", c.SecretFile)
	}
	return secrets, nil
}

// encodedSecrets returns the field the secrets come from and their base64
// texts.
func (c *ClusterConfig) encodedSecrets() (field string, encoded []string, err error) {
	set := 0
	for _, s := range []bool{c.Secret != "", len(c.Secrets) > 0, c.SecretFile != ""} {
		if s {
			set++
		}
	}
	switch {
	case set > 1:
		return "", nil, invalid("cluster.secrets", "is set together with secret or secretFile; set only one of the three (secret is the shorthand of secrets with one)")
	case c.SecretFile != "":
		encoded, err := readSecretFile(c.SecretFile)
		return "secretFile", encoded, err
	case len(c.Secrets) > 0:
		return "secrets", c.Secrets, nil
	case c.Secret != "":
		return "secret", []string{c.Secret}, nil
	}
	return "", nil, nil
}

// readSecretFile returns the lines of path that are neither blank nor
// comments (#).
func readSecretFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, invalid("cluster.secretFile", "cannot be read: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// yamlField is the YAML name of a cluster.Config field: its secrets'
// entries ("Secrets[1]") are named after where the secrets come from:
// "secrets[1]", "secretFile[1]" (the second secret of the file), or
// "secret" for the one secret of the shorthand.
func (c *ClusterConfig) yamlField(field string) string {
	if field == "Certs" {
		return "tls.cert" // the certificate does not name this worker
	}
	rest, isList := strings.CutPrefix(field, "Secrets")
	if !isList {
		return yamlKey(ClusterConfig{}, field)
	}
	switch {
	case c.SecretFile != "":
		return "secretFile" + rest
	case len(c.Secrets) > 0:
		return "secrets" + rest
	}
	return "secret"
}
