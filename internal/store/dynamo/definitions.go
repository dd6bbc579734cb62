package dynamo

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

const (
	skHead = "HEAD"
	verPfx = "V#"
)

// defOwner is the partition prefix of a definition: its owner's, or PUBLIC.
func defOwner(d *store.Definition) string {
	if d.Public {
		return publicPrefix
	}
	return userPrefix(d.UserID)
}

func defPK(owner, id string) string { return owner + "#DEF#" + id }
func defsGSI(owner string) string   { return owner + "#DEFS" }
func verSK(v int) string            { return verPfx + store.SeqKey(v) }

// defItem is a definition version; the HEAD copy of the latest version also carries
// the list index keys.
func defItem(d *store.Definition, sk string) (item, error) {
	g, err := store.EncodeRecord("definition", d.Graph)
	if err != nil {
		return nil, err
	}
	owner := defOwner(d)
	it := key(defPK(owner, d.ID), sk)
	if sk == skHead {
		it[aGSI1PK], it[aGSI1SK] = sv(defsGSI(owner)), sv(d.ID)
	}
	setS(it, "id", d.ID)
	setS(it, "user_id", d.UserID)
	it[aVersion], it["public"], it["graph"] = nv(int64(d.Version)), bv(d.Public), sv(string(g))
	setTime(it, "created_at", d.CreatedAt)
	setTime(it, "updated_at", d.UpdatedAt)
	return it, nil
}

func decodeDef(it item) (store.Definition, error) {
	d := store.Definition{ID: getS(it, "id"), UserID: getS(it, "user_id"), Version: int(getN(it, aVersion)),
		Public: getBool(it, "public"), CreatedAt: getTime(it, "created_at"), UpdatedAt: getTime(it, "updated_at")}
	err := json.Unmarshal([]byte(getS(it, "graph")), &d.Graph)
	return d, err
}

// CreateDefinition stores version 1 of a new definition (HEAD and V#1 in one
// transaction). Returns conflict if the id is taken.
func (s *Store) CreateDefinition(ctx context.Context, d *store.Definition) error {
	if d.ID == "" || d.UserID == "" {
		return store.Invalid("a definition needs an id and a user id")
	}
	now := s.now()
	nd := *d
	nd.Version, nd.Graph.ID, nd.Graph.Version, nd.CreatedAt, nd.UpdatedAt = 1, d.ID, 1, now, now
	head, err := defItem(&nd, skHead)
	if err != nil {
		return err
	}
	v1, _ := defItem(&nd, verSK(1))
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		s.put(head, notExists), s.put(v1, notExists)}})
	if lostRace(cancelReasons(err)) {
		return store.Conflict("definition %q already exists", d.ID)
	}
	if err != nil {
		return s.wrap("creating definition", err)
	}
	*d = nd
	return nil
}

// findDef reads sk of a definition userID may read — their own, else a public one —
// in one BatchGetItem. owned says whether userID owns it (and so may change it).
func (s *Store) findDef(ctx context.Context, userID, id, sk string) (it item, owned bool, err error) {
	it, i, err := s.getFirst(ctx, key(defPK(userPrefix(userID), id), sk), key(defPK(publicPrefix, id), sk))
	if err != nil || it == nil {
		return nil, false, s.wrap("reading definition", err)
	}
	return it, i == 0 || getS(it, "user_id") == userID, nil
}

// GetDefinition returns a definition version (0 = latest) owned by userID or
// public. Returns not_found otherwise.
func (s *Store) GetDefinition(ctx context.Context, userID, id string, version int) (*store.Definition, error) {
	if version < 0 {
		return nil, store.NotFound("definition", id)
	}
	sk := skHead
	if version > 0 {
		sk = verSK(version)
	}
	it, _, err := s.findDef(ctx, userID, id, sk)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, store.NotFound("definition", id)
	}
	d, err := decodeDef(it)
	if err != nil {
		return nil, s.wrap("decoding definition", err)
	}
	return &d, nil
}

// UpdateDefinition applies fn to the latest version and stores the result as a new
// version (HEAD moved under a version condition, the new V# item added); older
// versions stay readable. ID, owner and visibility do not change. Returns not_found
// unless userID owns the definition.
func (s *Store) UpdateDefinition(ctx context.Context, userID, id string, fn func(*store.Definition) error) (*store.Definition, error) {
	for attempt := 0; ; attempt++ {
		it, owned, err := s.findDef(ctx, userID, id, skHead)
		if err != nil {
			return nil, err
		}
		if it == nil || !owned {
			return nil, store.NotFound("definition", id)
		}
		last, err := decodeDef(it)
		if err != nil {
			return nil, s.wrap("decoding definition", err)
		}
		d := last
		if err := fn(&d); err != nil {
			return nil, err
		}
		d.ID, d.UserID, d.Public, d.CreatedAt = last.ID, last.UserID, last.Public, last.CreatedAt
		d.Version = last.Version + 1
		d.Graph.ID, d.Graph.Version, d.UpdatedAt = d.ID, d.Version, s.now()
		head, err := defItem(&d, skHead)
		if err != nil {
			return nil, err
		}
		ver, _ := defItem(&d, verSK(d.Version))
		hp := s.put(head, "#v = :v")
		hp.Put.ExpressionAttributeNames = map[string]string{"#v": aVersion}
		hp.Put.ExpressionAttributeValues = item{":v": nv(int64(last.Version))}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			hp, s.put(ver, notExists)}})
		if err == nil {
			return &d, nil
		}
		if !lostRace(cancelReasons(err)) {
			return nil, s.wrap("updating definition", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return nil, s.tooManyRetries("updating definition")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return nil, err
		}
	}
}

func decodeDefs(its []item, next string) (store.Page[store.Definition], error) {
	out := store.Page[store.Definition]{Items: make([]store.Definition, len(its)), Next: next}
	for i, it := range its {
		d, err := decodeDef(it)
		if err != nil {
			return store.Page[store.Definition]{}, err
		}
		out.Items[i] = d
	}
	return out, nil
}

// ListDefinitions lists the latest version of each of a user's own definitions, by id.
func (s *Store) ListDefinitions(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Definition], error) {
	its, next, _, err := s.page(ctx, store.ScopeDefinitions(userID), p, query{keys: gsiKeys,
		in: &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(gsi1), KeyConditionExpression: aws.String("#pk = :pk"),
			ExpressionAttributeNames: map[string]string{"#pk": aGSI1PK}, ExpressionAttributeValues: item{":pk": sv(defsGSI(userPrefix(userID)))}}})
	if err != nil {
		return store.Page[store.Definition]{}, s.wrap("listing definitions", err)
	}
	out, err := decodeDefs(its, next)
	return out, s.wrap("decoding definitions", err)
}

// ListDefinitionVersions lists every version of a definition userID may read,
// oldest first.
func (s *Store) ListDefinitionVersions(ctx context.Context, userID, id string, p store.PageRequest) (store.Page[store.Definition], error) {
	scope := store.ScopeDefinitionVersions(userID, id)
	versions := func(pk string) query {
		return query{keys: baseKeys, in: &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :v)"),
			ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK},
			ExpressionAttributeValues: item{":pk": sv(pk), ":v": sv(verPfx)}}}
	}
	pk := defPK(userPrefix(userID), id)
	if p.Cursor != "" {
		// The cursor says which partition the first page came from.
		pos, err := s.cursors.Open(scope, p.Cursor)
		if err != nil {
			return store.Page[store.Definition]{}, err
		}
		if strings.HasPrefix(pos[aPK], publicPrefix+"#") {
			pk = defPK(publicPrefix, id)
		}
	}
	its, next, seen, err := s.page(ctx, scope, p, versions(pk))
	if err == nil && !seen && p.Cursor == "" {
		its, next, seen, err = s.page(ctx, scope, p, versions(defPK(publicPrefix, id)))
	}
	if err != nil {
		return store.Page[store.Definition]{}, s.wrap("listing definition versions", err)
	}
	if !seen && p.Cursor == "" {
		return store.Page[store.Definition]{}, store.NotFound("definition", id)
	}
	out, err := decodeDefs(its, next)
	return out, s.wrap("decoding definitions", err)
}

// DeleteDefinition deletes every version of a definition userID owns; the HEAD goes
// first, so a delete cut short leaves nothing listed.
func (s *Store) DeleteDefinition(ctx context.Context, userID, id string) error {
	it, owned, err := s.findDef(ctx, userID, id, skHead)
	if err != nil {
		return err
	}
	if it == nil || !owned {
		return store.NotFound("definition", id)
	}
	pk := getS(it, aPK)
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(pk, skHead)}); err != nil {
		return s.wrap("deleting definition", err)
	}
	return s.wrap("deleting definition versions", s.deletePartition(ctx, pk))
}

func tplPK(owner string) string { return owner + "#TPL" }

// tplNamePK is the partition of an owner's template name claims: one item per
// store.TemplateNameKey, holding the template's id (aTplID).
func tplNamePK(owner string) string { return owner + "#TPLNAME" }

const aTplID = "template_id"

func (s *Store) putTemplate(ctx context.Context, owner string, t *workflow.Template) error {
	if t == nil || t.ID == "" {
		return store.Invalid("a template needs an id")
	}
	b, err := store.EncodeRecord("template", t)
	if err != nil {
		return err
	}
	it := key(tplPK(owner), t.ID)
	it[aBody] = sv(string(b))
	if owner == publicPrefix { // public templates claim no names
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it})
		return s.wrap("storing template", err)
	}
	// The template, its name claim (free, or already this template's) and, on a
	// rename, the release of the old claim: one transaction.
	old, err := s.get(ctx, key(tplPK(owner), t.ID), aBody)
	if err != nil {
		return s.wrap("reading template", err)
	}
	nameKey := store.TemplateNameKey(t.Name)
	claim := key(tplNamePK(owner), nameKey)
	claim[aTplID] = sv(t.ID)
	names := map[string]string{"#pk": aPK, "#id": aTplID}
	vals := item{":id": sv(t.ID)}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: it}},
		{Put: &types.Put{TableName: &s.table, Item: claim, ConditionExpression: aws.String("attribute_not_exists(#pk) OR #id = :id"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals}},
	}
	if old != nil {
		if ot, err := decodeTemplate(old); err == nil && store.TemplateNameKey(ot.Name) != nameKey {
			tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table,
				Key: key(tplNamePK(owner), store.TemplateNameKey(ot.Name)), ConditionExpression: aws.String("attribute_not_exists(#pk) OR #id = :id"),
				ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
		}
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if rs := cancelReasons(err); len(rs) > 1 && rs[1] == reasonCondition {
		return store.TemplateNameTaken(t.Name)
	}
	return s.wrap("storing template", err)
}

// GetTemplateByName returns the user's own template named name
// (store.TemplateNameKey). Returns not_found otherwise.
func (s *Store) GetTemplateByName(ctx context.Context, userID, name string) (*workflow.Template, error) {
	it, err := s.get(ctx, key(tplNamePK(userPrefix(userID)), store.TemplateNameKey(name)), aTplID)
	if err != nil {
		return nil, s.wrap("reading template name", err)
	}
	if it == nil {
		return nil, store.NotFound("template", name)
	}
	return s.GetTemplate(ctx, userID, getS(it, aTplID))
}

func decodeTemplate(it item) (*workflow.Template, error) {
	t := &workflow.Template{}
	if err := json.Unmarshal([]byte(getS(it, aBody)), t); err != nil {
		return nil, err
	}
	t.Builtin = false
	return t, nil
}

// PutTemplate stores (creates or replaces) a user template.
func (s *Store) PutTemplate(ctx context.Context, userID string, t *workflow.Template) error {
	if userID == "" {
		return store.Invalid("a user id is required")
	}
	return s.putTemplate(ctx, userPrefix(userID), t)
}

// PublishTemplate stores (creates or replaces) a public template every user can read.
func (s *Store) PublishTemplate(ctx context.Context, t *workflow.Template) error {
	return s.putTemplate(ctx, publicPrefix, t)
}

// GetTemplate returns a user template owned by userID, else a public one, in one
// BatchGetItem. Returns not_found otherwise.
func (s *Store) GetTemplate(ctx context.Context, userID, id string) (*workflow.Template, error) {
	it, which, err := s.getFirst(ctx, key(tplPK(userPrefix(userID)), id), key(tplPK(publicPrefix), id))
	if err != nil {
		return nil, s.wrap("reading template", err)
	}
	if it == nil {
		return nil, store.NotFound("template", id)
	}
	t, err := decodeTemplate(it)
	if t != nil {
		t.Public = which == 1
	}
	return t, s.wrap("decoding template", err)
}

// ListTemplates lists a user's own templates, by id.
func (s *Store) ListTemplates(ctx context.Context, userID string, p store.PageRequest) (store.Page[*workflow.Template], error) {
	its, next, _, err := s.page(ctx, store.ScopeTemplates(userID), p, query{keys: baseKeys,
		in: &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk"),
			ExpressionAttributeNames: map[string]string{"#pk": aPK}, ExpressionAttributeValues: item{":pk": sv(tplPK(userPrefix(userID)))}}})
	if err != nil {
		return store.Page[*workflow.Template]{}, s.wrap("listing templates", err)
	}
	out := store.Page[*workflow.Template]{Items: make([]*workflow.Template, len(its)), Next: next}
	for i, it := range its {
		if out.Items[i], err = decodeTemplate(it); err != nil {
			return store.Page[*workflow.Template]{}, s.wrap("decoding template", err)
		}
	}
	return out, nil
}

// DeleteTemplate deletes a user template. Returns not_found if there is none.
func (s *Store) DeleteTemplate(ctx context.Context, userID, id string) error {
	owner := userPrefix(userID)
	old, err := s.get(ctx, key(tplPK(owner), id), aBody)
	if err != nil {
		return s.wrap("reading template", err)
	}
	if old == nil {
		return store.NotFound("template", id)
	}
	// The template and its name claim go together.
	tx := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.table, Key: key(tplPK(owner), id),
		ConditionExpression: aws.String("attribute_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": aPK}}}}
	if ot, err := decodeTemplate(old); err == nil {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table,
			Key: key(tplNamePK(owner), store.TemplateNameKey(ot.Name)), ConditionExpression: aws.String("attribute_not_exists(#pk) OR #id = :id"),
			ExpressionAttributeNames: map[string]string{"#pk": aPK, "#id": aTplID}, ExpressionAttributeValues: item{":id": sv(id)}}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if rs := cancelReasons(err); len(rs) > 0 && rs[0] == reasonCondition {
		return store.NotFound("template", id)
	}
	return s.wrap("deleting template", err)
}
