package gemini

// Embedding wire types of the Gemini API (ai.google.dev/api/embeddings):
// POST {base}/models/{model}:embedContent takes an EmbedContentRequest and
// answers an EmbedContentResponse; :batchEmbedContents takes a
// BatchEmbedContentsRequest whose requests each name the same model
// ("models/{model}") and answers the embeddings in request order.

// Task types of an embedding request (the TaskType enum): a memory is
// embedded as a document and a search text as a query, so that models
// trained for asymmetric retrieval place them well.
const (
	TaskRetrievalQuery    = "RETRIEVAL_QUERY"
	TaskRetrievalDocument = "RETRIEVAL_DOCUMENT"
)

// MaxBatchEmbed is the most requests one batchEmbedContents call takes.
const MaxBatchEmbed = 100

// EmbedContentRequest asks for the embedding of one content. Model is
// required inside a batch ("models/{model}", the model of the URL) and
// optional for embedContent, whose URL names it. Only the text parts of
// Content are embedded. OutputDimensionality truncates the vector (models
// from 2024 on); a truncated vector is not normalised.
type EmbedContentRequest struct {
	Model                string  `json:"model,omitempty"`
	Content              Content `json:"content"`
	TaskType             string  `json:"taskType,omitempty"`
	Title                string  `json:"title,omitempty"`
	OutputDimensionality int     `json:"outputDimensionality,omitempty"`
}

// BatchEmbedContentsRequest embeds several contents in one call.
type BatchEmbedContentsRequest struct {
	Requests []EmbedContentRequest `json:"requests"`
}

// ContentEmbedding is one vector.
type ContentEmbedding struct {
	Values []float32 `json:"values"`
}

// EmbedUsage is the token count some versions of the API report with
// embeddings (usageMetadata); absent, the caller estimates.
type EmbedUsage struct {
	PromptTokenCount int64 `json:"promptTokenCount,omitempty"`
	TotalTokenCount  int64 `json:"totalTokenCount,omitempty"`
}

// EmbedContentResponse answers embedContent.
type EmbedContentResponse struct {
	Embedding     ContentEmbedding `json:"embedding"`
	UsageMetadata *EmbedUsage      `json:"usageMetadata,omitempty"`
}

// BatchEmbedContentsResponse answers batchEmbedContents: one embedding
// per request, in request order.
type BatchEmbedContentsResponse struct {
	Embeddings    []ContentEmbedding `json:"embeddings"`
	UsageMetadata *EmbedUsage        `json:"usageMetadata,omitempty"`
}
