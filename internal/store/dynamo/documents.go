package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

// Documents (see store.DocumentStore): one partition per document,
//
//	document  USER#u#DOC#d   DOC          USER#u#DOCS  <created_at>#d
//	chunk     USER#u#DOC#d   CH#<index>   (text and offsets in body, the vector in v)
//
// so a document and all of its chunks are one Query ("CH#" < "DOC"), and a user's
// documents are one Query of GSI1, newest first. The document is JSON in body with
// a revision tag (rev) every update is conditioned on.
const (
	skDoc        = "DOC"
	chunkPrefix  = "CH#"
	aVector      = "v"
	docKindLabel = "document"
)

func docPK(userID, id string) string { return userPrefix(userID) + "#DOC#" + id }
func docsGSI(userID string) string   { return userPrefix(userID) + "#DOCS" }
func chunkSK(i int) string           { return fmt.Sprintf("%s%06d", chunkPrefix, i) }

func docItem(d *store.Document, revision types.AttributeValue) (item, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, store.Invalid("document: %v", err)
	}
	it := key(docPK(d.UserID, d.ID), skDoc)
	it[aGSI1PK] = sv(docsGSI(d.UserID))
	it[aGSI1SK] = sv(store.TimeKey(d.CreatedAt) + "#" + d.ID)
	it[aBody] = sv(string(b))
	it[aRev] = revision
	return it, nil
}

func decodeDoc(it item) (*store.Document, error) {
	var d store.Document
	if err := json.Unmarshal([]byte(getS(it, aBody)), &d); err != nil {
		return nil, fmt.Errorf("dynamo: decoding document %s: %w", getS(it, aPK), err)
	}
	return &d, nil
}

// CreateDocument stores a new document; conflict when the id is taken.
func (s *Store) CreateDocument(ctx context.Context, d *store.Document) error {
	store.PrepareDocument(d, s.now())
	if err := store.CheckDocument(d); err != nil {
		return err
	}
	it, err := docItem(d, rev())
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it,
		ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": aPK}})
	if conditionFailed(err) {
		return store.Conflict("document %q exists", d.ID)
	}
	return s.wrap("creating document", err)
}

// readDoc reads a document item, Deleting ones included; nil when absent.
func (s *Store) readDoc(ctx context.Context, userID, id string) (*store.Document, item, error) {
	if userID == "" {
		return nil, nil, store.Invalid("a user id is required")
	}
	it, err := s.get(ctx, key(docPK(userID, id), skDoc))
	if err != nil || it == nil {
		return nil, nil, s.wrap("reading document", err)
	}
	d, err := decodeDoc(it)
	return d, it, err
}

// GetDocument returns one of userID's documents.
func (s *Store) GetDocument(ctx context.Context, userID, id string) (*store.Document, error) {
	d, _, err := s.readDoc(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.Deleting {
		return nil, store.NotFound(docKindLabel, id)
	}
	return d, nil
}

// ListDocuments returns userID's documents, newest first, at most store.MaxCounted.
func (s *Store) ListDocuments(ctx context.Context, userID string) ([]store.Document, error) {
	if userID == "" {
		return nil, store.Invalid("a user id is required")
	}
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(gsi1),
		KeyConditionExpression:   aws.String("#pk = :pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aGSI1PK}, ExpressionAttributeValues: item{":pk": sv(docsGSI(userID))},
		ScanIndexForward: aws.Bool(false)}
	var out []store.Document
	for len(out) < store.MaxCounted {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.wrap("listing documents", err)
		}
		for _, it := range page.Items {
			d, err := decodeDoc(it)
			if err != nil {
				return nil, err
			}
			if !d.Deleting {
				out = append(out, *d)
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	store.SortDocuments(out)
	if len(out) > store.MaxCounted {
		out = out[:store.MaxCounted]
	}
	return out, nil
}

// UpdateDocument applies fn to the current document, conditioned on its revision
// and retried when another write came in between.
func (s *Store) UpdateDocument(ctx context.Context, userID, id string, fn func(*store.Document) error) (*store.Document, error) {
	return s.updateDoc(ctx, userID, id, false, func(old, d *store.Document) error {
		if err := fn(d); err != nil {
			return err
		}
		return store.CheckDocumentTransition(old, d)
	})
}

// MarkDocumentDeleting sets Deleting on the document, found even when set already.
func (s *Store) MarkDocumentDeleting(ctx context.Context, userID, id string) (*store.Document, error) {
	return s.updateDoc(ctx, userID, id, true, func(_, d *store.Document) error { d.Deleting = true; return nil })
}

func (s *Store) updateDoc(ctx context.Context, userID, id string, deleting bool, fn func(old, d *store.Document) error) (*store.Document, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > s.o.MaxAttempts {
				return nil, s.tooManyRetries("updating document")
			}
			if err := s.backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		old, it, err := s.readDoc(ctx, userID, id)
		if err != nil {
			return nil, err
		}
		if old == nil || (old.Deleting && !deleting) {
			return nil, store.NotFound(docKindLabel, id)
		}
		d, _ := decodeDoc(it)
		if err := fn(old, d); err != nil {
			return nil, err
		}
		d.UpdatedAt = s.now()
		if err := store.CheckDocument(d); err != nil {
			return nil, err
		}
		next, err := docItem(d, rev())
		if err != nil {
			return nil, err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: next,
			ConditionExpression:       aws.String("#rev = :rev"),
			ExpressionAttributeNames:  map[string]string{"#rev": aRev},
			ExpressionAttributeValues: item{":rev": it[aRev]}})
		if conditionFailed(err) {
			continue
		}
		if err != nil {
			return nil, s.wrap("updating document", err)
		}
		return d, nil
	}
}

// chunkData is a chunk's data attribute: the chunk without its vector.
func chunkItem(userID string, c store.Chunk) (item, error) {
	v := c.Vector
	c.Vector = nil
	b, err := json.Marshal(c)
	if err != nil {
		return nil, store.Invalid("chunk %d: %v", c.Index, err)
	}
	it := key(docPK(userID, c.DocumentID), chunkSK(c.Index))
	it[aBody] = sv(string(b))
	if len(v) > 0 {
		it[aVector] = &types.AttributeValueMemberB{Value: v}
	}
	return it, nil
}

func decodeChunk(it item) (store.Chunk, error) {
	var c store.Chunk
	if err := json.Unmarshal([]byte(getS(it, aBody)), &c); err != nil {
		return c, fmt.Errorf("dynamo: decoding chunk %s %s: %w", getS(it, aPK), getS(it, aSK), err)
	}
	if b, ok := it[aVector].(*types.AttributeValueMemberB); ok {
		c.Vector = b.Value
	}
	return c, nil
}

// PutChunks writes the document's chunks (25 per BatchWriteItem) and deletes the
// stored chunks past the new count.
func (s *Store) PutChunks(ctx context.Context, userID, docID string, chunks []store.Chunk) error {
	if err := store.CheckChunks(docID, chunks); err != nil {
		return err
	}
	d, _, err := s.readDoc(ctx, userID, docID)
	if err != nil {
		return err
	}
	if d == nil || d.Deleting {
		return store.NotFound(docKindLabel, docID)
	}
	old, err := s.partitionPrefix(ctx, docPK(userID, docID), chunkPrefix)
	if err != nil {
		return s.wrap("reading chunk keys", err)
	}
	reqs := make([]types.WriteRequest, 0, len(chunks))
	for _, c := range chunks {
		it, err := chunkItem(userID, c)
		if err != nil {
			return err
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	for _, it := range old {
		var i int
		if _, err := fmt.Sscanf(getS(it, aSK), chunkPrefix+"%d", &i); err == nil && i < len(chunks) {
			continue
		}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(getS(it, aPK), getS(it, aSK))}})
	}
	return s.wrap("writing chunks", s.writeBatch(ctx, reqs))
}

// DocumentChunks reads a document's partition in one Query (paged by DynamoDB at
// 1 MB) and returns the document and its visible chunks.
func (s *Store) DocumentChunks(ctx context.Context, userID, id string) (*store.Document, []store.Chunk, error) {
	if userID == "" {
		return nil, nil, store.Invalid("a user id is required")
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aPK}, ExpressionAttributeValues: item{":pk": sv(docPK(userID, id))},
		ConsistentRead: aws.Bool(true)}
	var d *store.Document
	var chunks []store.Chunk
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, nil, s.wrap("reading document chunks", err)
		}
		for _, it := range page.Items {
			if getS(it, aSK) == skDoc {
				if d, err = decodeDoc(it); err != nil {
					return nil, nil, err
				}
				continue
			}
			c, err := decodeChunk(it)
			if err != nil {
				return nil, nil, err
			}
			chunks = append(chunks, c)
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	if d == nil || d.Deleting {
		return nil, nil, store.NotFound(docKindLabel, id)
	}
	slices.SortFunc(chunks, func(a, b store.Chunk) int { return a.Index - b.Index })
	return d, store.VisibleChunks(d, chunks), nil
}

// DeleteDocument deletes the document's chunks in batches, then the document
// itself in its own request, so a failure part-way leaves the document (marked
// Deleting by the caller) for a retry to find.
func (s *Store) DeleteDocument(ctx context.Context, userID, id string) error {
	d, _, err := s.readDoc(ctx, userID, id)
	if err != nil {
		return err
	}
	if d == nil {
		return store.NotFound(docKindLabel, id)
	}
	chunks, err := s.partitionPrefix(ctx, docPK(userID, id), chunkPrefix)
	if err != nil {
		return s.wrap("reading chunk keys", err)
	}
	if err := s.deleteItems(ctx, chunks); err != nil {
		return s.wrap("deleting chunks", err)
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(docPK(userID, id), skDoc)})
	return s.wrap("deleting document", err)
}
