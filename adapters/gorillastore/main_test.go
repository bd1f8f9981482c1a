package gorillastore_test

import (
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler)) // go-redis's reconnect logs
	goleak.VerifyTestMain(m)
}
