package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestPrincipalMessagesRoundTrip(t *testing.T) {
	req := principalReq{principal: "tenant:alice"}
	if got, err := parsePrincipal(req.marshal()); err != nil || got != req {
		t.Fatalf("principal request: %+v, %v; want %+v", got, err, req)
	}
	r := principalReply{ids: []string{session.NewID(), session.NewID()}, held: []int{0, 7, 4095}}
	got, err := parsePrincipalReply(r.marshal())
	if err != nil || !slices.Equal(got.ids, r.ids) || !slices.Equal(got.held, r.held) {
		t.Fatalf("principal reply: %+v, %v; want %+v", got, err, r)
	}
	bad := principalReply{ids: []string{"not an ID"}}
	if _, err := parsePrincipalReply(bad.marshal()); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a reply with a malformed ID: %v; want ErrBadMessage", err)
	}
}

// coverIDs: the union of the answers, sorted and without duplicates
// (both replicas of a session answer), when the members that answered
// hold every partition between them; an error naming the members that
// did not answer otherwise.
func TestCoverIDs(t *testing.T) {
	a, b, c := session.NewID(), session.NewID(), session.NewID()
	members := []Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	down := errors.New("connection refused")
	for _, tt := range []struct {
		name    string
		replies []principalReply
		errs    []error
		want    []string
		fail    string // a part of the error; "" when none
	}{
		{"all answer", []principalReply{{ids: []string{a, b}, held: []int{0, 1}}, {ids: []string{b}, held: []int{1, 2}}, {ids: []string{c}, held: []int{0, 2, 3}}},
			[]error{nil, nil, nil}, slices.Sorted(slices.Values([]string{a, b, c})), ""},
		{"one down, its partitions held by others", []principalReply{{ids: []string{a}, held: []int{0, 1}}, {}, {ids: []string{a}, held: []int{2, 3}}},
			[]error{nil, down, nil}, []string{a}, ""},
		{"one down, a partition only it held", []principalReply{{held: []int{0, 1}}, {}, {held: []int{2}}},
			[]error{nil, down, nil}, nil, "1 of 4 partitions could not be listed: no member that holds them answered; did not answer: n2 (connection refused)"},
		{"every member answers, a partition held by none", []principalReply{{held: []int{0}}, {held: []int{1}}, {held: []int{2}}},
			[]error{nil, nil, nil}, nil, "did not answer: none"},
		{"a partition beyond the table is ignored", []principalReply{{held: []int{0, 1, 2, 3, 9}}, {}, {}},
			[]error{nil, nil, nil}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coverIDs(0, 4, members, tt.replies, tt.errs)
			switch {
			case tt.fail == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.fail != "" && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.fail)):
				t.Fatalf("error %v; want ErrUnavailable with %q", err, tt.fail)
			case !slices.Equal(got, tt.want):
				t.Fatalf("ids %v; want %v", got, tt.want)
			}
		})
	}
}
