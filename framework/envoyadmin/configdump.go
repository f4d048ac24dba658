package envoyadmin

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error is an admin answer other than 200: Envoy's HTTP code and its
// text/plain body.
type Error struct {
	Code int
	Body string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Body) }

// param is a query parameter that is present and not empty: Envoy treats
// "?resource=&mask=&name_regex=" like no parameters (test
// AdminInstanceTest.ConfigDump).
func param(q url.Values, name string) (string, bool) {
	v := q.Get(name)
	return v, v != ""
}

// tracker is one config tracker entry, in the order Envoy's CbsMap (a
// std::map by key) iterates them: "clusters" < "endpoint".
type tracker struct {
	key  string
	dump func(match func(string) bool) (proto.Message, error)
}

// ConfigDump renders /config_dump for query q (include_eds, resource,
// mask, name_regex), or returns an *Error with the code and text Envoy
// answers (handlerConfigDump).
func ConfigDump(cs []Cluster, q url.Values) ([]byte, error) {
	match := func(string) bool { return true }
	if re, ok := param(q, "name_regex"); ok {
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, &Error{http.StatusBadRequest, fmt.Sprintf("INVALID_ARGUMENT: Error while parsing name_regex from %s: %v", re, err)}
		}
		match = r.MatchString
	}
	trackers := []tracker{{"clusters", func(m func(string) bool) (proto.Message, error) { return clustersDump(cs, m) }}}
	// include_eds adds the "endpoint" entry when there are active clusters.
	if _, ok := q["include_eds"]; ok && len(cs) > 0 {
		trackers = append(trackers, tracker{"endpoint", func(m func(string) bool) (proto.Message, error) { return endpointsDump(cs, m) }})
	}
	dump := &adminv3.ConfigDump{}
	mask, hasMask := param(q, "mask")
	if resource, ok := param(q, "resource"); ok {
		if err := addResource(dump, trackers, resource, mask, hasMask, match); err != nil {
			return nil, err
		}
	} else if err := addAll(dump, trackers, mask, hasMask, match); err != nil {
		return nil, err
	}
	b, err := marshal(dump)
	if err != nil {
		return nil, &Error{http.StatusInternalServerError, err.Error()}
	}
	return b, nil
}

// addResource is addResourceToDump: the first entry with a field named
// resource gives its repeated elements, each (masked and) packed as one
// config; a singular field is 400, no such field anywhere 404.
func addResource(dump *adminv3.ConfigDump, trackers []tracker, resource, mask string, hasMask bool, match func(string) bool) error {
	for _, t := range trackers {
		msg, err := t.dump(match)
		if err != nil {
			return &Error{http.StatusInternalServerError, err.Error()}
		}
		m := msg.ProtoReflect()
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(resource))
		if fd == nil {
			continue
		}
		if !fd.IsList() {
			return &Error{http.StatusBadRequest, fmt.Sprintf("%s is not a repeated field. Use ?mask=%s to get only this field", fd.Name(), fd.Name())}
		}
		list := m.Get(fd).List()
		for i := 0; i < list.Len(); i++ {
			el := list.Get(i).Message().Interface()
			if hasMask {
				paths := maskPaths(mask)
				if !trimResource(paths, el) {
					return &Error{http.StatusBadRequest, fmt.Sprintf("FieldMask %s could not be successfully used.", maskDebugString(paths))}
				}
			}
			a, err := anypb.New(el)
			if err != nil {
				return &Error{http.StatusInternalServerError, err.Error()}
			}
			dump.Configs = append(dump.Configs, a)
		}
		return nil
	}
	return &Error{http.StatusNotFound, fmt.Sprintf("%s not found in config dump", resource)}
}

// addAll is addAllConfigToDump: every entry, masked as a whole (an entry
// the mask does not fit is left out); 400 if a mask leaves nothing.
func addAll(dump *adminv3.ConfigDump, trackers []tracker, mask string, hasMask bool, match func(string) bool) error {
	for _, t := range trackers {
		msg, err := t.dump(match)
		if err != nil {
			return &Error{http.StatusInternalServerError, err.Error()}
		}
		if hasMask && !checkAndTrim(maskPaths(mask), msg.ProtoReflect()) {
			continue
		}
		a, err := anypb.New(msg)
		if err != nil {
			return &Error{http.StatusInternalServerError, err.Error()}
		}
		dump.Configs = append(dump.Configs, a)
	}
	if len(dump.Configs) == 0 && hasMask {
		return &Error{http.StatusBadRequest, fmt.Sprintf("FieldMask %s could not be successfully applied to any configs.", mask)}
	}
	return nil
}

// maskPaths is FieldMaskUtil::FromString: comma-separated, empty parts
// dropped.
func maskPaths(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// maskDebugString is FieldMask::DebugString: one `paths: "..."` line per
// path.
func maskDebugString(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "paths: %q\n", p)
	}
	return b.String()
}

// validPath is FieldMaskUtil::GetFieldDescriptors: every part names a
// field, and every part but the last a singular message field.
func validPath(md protoreflect.MessageDescriptor, path string) bool {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := md.Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return false
		}
		if i < len(parts)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return false
			}
			md = fd.Message()
		}
	}
	return true
}

// maskTree is a FieldMaskTree: a nil subtree keeps the whole field.
type maskTree map[string]maskTree

func buildTree(paths []string) maskTree {
	root := maskTree{}
	for _, p := range paths {
		node := root
		parts := strings.Split(p, ".")
		for i, part := range parts {
			sub, seen := node[part]
			if seen && sub == nil {
				break // an ancestor is kept whole
			}
			if i == len(parts)-1 {
				node[part] = nil
				break
			}
			if sub == nil {
				sub = maskTree{}
				node[part] = sub
			}
			node = sub
		}
	}
	return root
}

// trim is FieldMaskUtil::TrimMessage.
func trim(m protoreflect.Message, t maskTree) {
	var clear []protoreflect.FieldDescriptor
	var sub []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		st, ok := t[string(fd.Name())]
		switch {
		case !ok:
			clear = append(clear, fd)
		case st != nil && fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			sub = append(sub, fd)
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
	for _, fd := range sub {
		trim(m.Mutable(fd).Message(), t[string(fd.Name())])
	}
}

// checkAndTrim is checkFieldMaskAndTrimMessage.
func checkAndTrim(paths []string, m protoreflect.Message) bool {
	for _, p := range paths {
		if !validPath(m.Descriptor(), p) {
			return false
		}
	}
	trim(m, buildTree(paths))
	return true
}

// trimResource is trimResourceMessage: paths into the resource's single
// google.protobuf.Any field apply to the message packed in it.
func trimResource(paths []string, msg proto.Message) bool {
	m := msg.ProtoReflect()
	var outer, inner []string
	var anyField protoreflect.FieldDescriptor
	for _, p := range paths {
		frags := strings.Split(p, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(frags[0]))
		if fd != nil && fd.Message() != nil && !fd.IsList() && fd.Message().FullName() == "google.protobuf.Any" {
			anyField = fd
			outer = append(outer, frags[0])
			inner = append(inner, strings.Join(frags[1:], "."))
			continue
		}
		outer = append(outer, p)
	}
	if anyField != nil && m.Has(anyField) {
		a := m.Get(anyField).Message().Interface().(*anypb.Any)
		in, err := a.UnmarshalNew()
		if err != nil {
			return false
		}
		if !checkAndTrim(inner, in.ProtoReflect()) {
			return false
		}
		na, err := anypb.New(in)
		if err != nil {
			return false
		}
		m.Set(anyField, protoreflect.ValueOfMessage(na.ProtoReflect()))
	}
	return checkAndTrim(outer, m)
}
