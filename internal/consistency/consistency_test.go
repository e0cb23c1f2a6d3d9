package consistency

import (
	"context"
	"testing"
)

func TestEventualMark(t *testing.T) {
	ctx := context.Background()
	if Eventual(ctx) {
		t.Fatal("an unmarked context is eventual")
	}
	marked := WithEventual(ctx)
	if !Eventual(marked) {
		t.Fatal("WithEventual's context is not eventual")
	}
	type other struct{}
	if !Eventual(context.WithValue(marked, other{}, 1)) {
		t.Fatal("the mark is lost in a derived context")
	}
}
