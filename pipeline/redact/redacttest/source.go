package redacttest

import (
	"fmt"
	"strconv"
	"strings"
)

// Filler: ordinary code of each kind, the bulk of the corpus and of the
// benchmark source. It deliberately talks about keys, tokens, auth and
// passwords the way real code does (names, calls, environment lookups)
// without containing a value, so any finding in it is a false positive.
// {A} {B} {C} are replaced by random identifiers, {N} by a number.

func fillerBlocks(kind string) []string {
	switch kind {
	case "go":
		return []string{
			`// {A}Store caches {b} records by key.
type {A}Store struct {
	mu    sync.RWMutex
	items map[string]*{C}
	ttl   time.Duration
}

// Get returns the record stored under key.
func (s *{A}Store) Get(ctx context.Context, key string) (*{C}, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	item, ok := s.items[key]
	if !ok {
		return nil, fmt.Errorf("{b} %q: not found", key)
	}
	return item, nil
}`,
			`func (c *Client) refreshAccessToken(ctx context.Context) error {
	if c.token != nil && time.Until(c.token.Expiry) > time.Minute {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.authURL+"/oauth/token", nil)
	if err != nil {
		return fmt.Errorf("build token request: %w", err)
	}
	req.SetBasicAuth(c.clientID, c.clientSecret)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("refresh {b} token: %w", err)
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(&c.token)
}`,
			`func load{A}Config() (*Config, error) {
	apiKey := os.Getenv("{B}_API_KEY")
	if apiKey == "" {
		return nil, errors.New("{B}_API_KEY is not set")
	}
	secret, err := secrets.Lookup(context.Background(), "{b}/webhook-secret")
	if err != nil {
		return nil, err
	}
	return &Config{APIKey: apiKey, WebhookSecret: secret, Retries: {N}}, nil
}`,
			`// hashPassword derives the stored form of a user's password.
func hashPassword(password string, cost int) (string, error) {
	if len(password) < minPasswordLength {
		return "", ErrPasswordTooShort
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}`,
			`func (h *{A}Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := h.verifier.Verify(r.Context(), token)
	if err != nil {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	keys := make([]string, 0, len(claims.Scopes))
	for _, s := range claims.Scopes {
		keys = append(keys, s.Key)
	}
	writeJSON(w, map[string]any{"user": claims.Subject, "scopes": keys, "count": {N}})
}`,
			`type {A}Options struct {
	Endpoint     string        ` + "`json:\"endpoint\"`" + `
	AccessKeyID  string        ` + "`json:\"access_key_id\"`" + `
	SecretRef    string        ` + "`json:\"secret_ref\"`" + `
	TokenTTL     time.Duration ` + "`json:\"token_ttl\"`" + `
	MaxKeys      int           ` + "`json:\"max_keys\"`" + `
}`,
			`func Test{A}Sort(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []int
		want []int
	}{
		{"empty", nil, nil},
		{"one", []int{ {N} }, []int{ {N} }},
		{"two", []int{2, 1}, []int{1, 2}},
	} {
		got := sort{A}(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}`,
		}
	case "py":
		return []string{
			`def get_{b}(session, {b}_id):
    """Return the {b} with this id, or None."""
    return session.query({A}).filter_by(id={b}_id).one_or_none()`,
			`class {A}Client:
    def __init__(self, base_url, api_key=None, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or os.environ.get("{B}_API_KEY")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.api_key}"
        self.timeout = timeout

    def fetch(self, path, **params):
        resp = self.session.get(f"{self.base_url}/{path}", params=params, timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()`,
			`@app.route("/login", methods=["POST"])
def login():
    username = request.form["username"]
    password = request.form["password"]
    user = User.query.filter_by(username=username).first()
    if user is None or not check_password_hash(user.password_hash, password):
        abort(401)
    token = create_access_token(identity=user.id, expires_delta=timedelta(minutes={N}))
    return jsonify(access_token=token)`,
			`def chunk_{b}(items, size={N}):
    """Split items into lists of at most size elements."""
    for start in range(0, len(items), size):
        yield items[start:start + size]`,
			`SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DB_NAME", "{b}"),
        "USER": os.environ.get("DB_USER", "{b}"),
        "PASSWORD": os.environ.get("DB_PASSWORD"),
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}`,
		}
	case "js":
		return []string{
			`export async function fetch{A}(id, { signal } = {}) {
  const res = await fetch(` + "`${API_BASE}/{b}/${id}`" + `, {
    headers: { Authorization: ` + "`Bearer ${getToken()}`" + ` },
    signal,
  });
  if (!res.ok) throw new Error(` + "`{b} ${id}: ${res.status}`" + `);
  return res.json();
}`,
			`const {b}Reducer = (state = initialState, action) => {
  switch (action.type) {
    case '{B}_LOADED':
      return { ...state, items: action.payload, loading: false };
    case 'AUTH_TOKEN_EXPIRED':
      return { ...state, token: null };
    default:
      return state;
  }
};`,
			`router.post('/api/{b}/keys', requireAuth, async (req, res) => {
  const key = await ApiKey.create({ owner: req.user.id, scopes: req.body.scopes });
  res.status(201).json({ id: key.id, prefix: key.prefix, createdAt: key.createdAt });
});`,
			`module.exports = {
  port: process.env.PORT || {N},
  apiKey: process.env.{B}_API_KEY,
  sessionSecret: process.env.SESSION_SECRET,
  tokenTtlSeconds: 3600,
};`,
		}
	case "yaml":
		return []string{
			`{b}:
  image: registry.acme.io/{b}:1.{N}.0
  resources:
    limits:
      cpu: 500m
      memory: 512Mi
  envFrom:
    - secretRef:
        name: {b}-secrets`,
			`jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
        env:
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
          API_KEY: ${{ secrets.{B}_API_KEY }}`,
			`probes:
  liveness:
    path: /healthz
    port: 8080
    initialDelaySeconds: {N}
  auth:
    enabled: true
    issuer: https://auth.acme.io/
    audience: {b}-api`,
		}
	case "toml":
		return []string{
			"[database]\nhost = \"localhost\"\nport = 5432\npool_size = {N}\npassword_env = \"DB_PASSWORD\"",
			"[auth]\nissuer = \"https://auth.acme.io/\"\ntoken_ttl = \"1h\"\nkey_rotation_days = 90",
		}
	case "docker":
		return []string{
			"RUN apk add --no-cache ca-certificates git\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out/{b} ./cmd/{b}",
			"ARG VERSION=1.{N}.0\nLABEL org.opencontainers.image.version=$VERSION\nEXPOSE 8080",
		}
	case "sh":
		return []string{
			"log() { printf '%s %s\\n' \"$(date -u +%FT%TZ)\" \"$*\" >&2; }\n\nlog \"deploying {b}\"\nkubectl rollout status deploy/{b} --timeout={N}s",
			"if [[ -z \"${API_TOKEN:-}\" ]]; then\n  echo 'API_TOKEN is required' >&2\n  exit 1\nfi\ncurl -fsS -H \"Authorization: Bearer ${API_TOKEN}\" https://api.acme.io/v1/{b}",
		}
	case "md":
		return []string{
			"## {A}\n\nThe {b} service reads its API key from the `{B}_API_KEY` environment variable and refreshes its\naccess token every {N} minutes. Tokens are never written to disk.",
			"### Troubleshooting\n\n- `401 Unauthorized`: the token expired; run `make login` again.\n- `403 Forbidden`: the key lacks the `{b}:write` scope.",
		}
	case "bat":
		return []string{
			"set PATH=%PATH%;C:\\tools\\{b}\nif not defined API_TOKEN (\n  echo API_TOKEN is required\n  exit /b 1\n)",
			"call npm ci\ncall npm run build -- --env={b}",
		}
	case "json":
		return []string{
			"  \"{b}\": {\n    \"enabled\": true,\n    \"endpoint\": \"https://{b}.internal.acme.io\",\n    \"timeoutMs\": {N},\n    \"retries\": 3\n  }",
			"  \"{b}Features\": [\n    \"search\",\n    \"export\",\n    \"audit\"\n  ]",
			"  \"{b}Limits\": {\n    \"requestsPerMinute\": {N},\n    \"burst\": 20\n  }",
		}
	case "props":
		return []string{
			"spring.datasource.url=jdbc:postgresql://db:5432/{b}\nspring.datasource.username={b}\nspring.datasource.password=${DB_PASSWORD}",
			"management.endpoints.web.exposure.include=health,info\nserver.max-http-header-size={N}KB",
		}
	}
	return nil
}

// identWords build the random identifiers in filler.
func identWords() []string {
	return []string{"order", "invoice", "customer", "ledger", "shipment", "report", "session", "tenant", "catalog",
		"payment", "widget", "account", "profile", "export", "audit", "metric", "upload", "search", "inventory", "notice"}
}

// filler returns one filler block of the kind with fresh identifiers.
func filler(g *gen, kind string) string {
	blocks := fillerBlocks(kind)
	if len(blocks) == 0 {
		return ""
	}
	words := identWords()
	w1, w2 := words[g.r.IntN(len(words))], words[g.r.IntN(len(words))]
	title := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
	return strings.NewReplacer(
		"{A}", title(w1)+title(w2),
		"{B}", strings.ToUpper(w1),
		"{C}", title(w2),
		"{b}", w1,
		"{N}", strconv.Itoa(g.between(2, 900)),
	).Replace(blocks[g.r.IntN(len(blocks))])
}

// Source returns about size bytes of ordinary source files (Go, Python,
// JavaScript, YAML, JSON, TOML, Dockerfiles, shell, Markdown; 4–16 KB
// each) with a handful of fake secrets (one file in fifty has one), and
// the number of secrets planted. It is the input of redaction benchmarks:
// mostly clean code that mentions keys, tokens and passwords more often
// than real code does, which makes it a hard case for keyword-driven
// scanning.
func Source(seed int64, size int) (files map[string]string, secrets int) {
	g := newGen(seed)
	kinds := []string{"go", "go", "go", "py", "py", "js", "js", "yaml", "json", "md", "toml", "docker", "sh"}
	ext := map[string]string{"go": ".go", "py": ".py", "js": ".js", "yaml": ".yaml", "json": ".json", "md": ".md",
		"toml": ".toml", "docker": ".dockerfile", "sh": ".sh"}
	tokens := tokenKinds()
	files = map[string]string{}
	total := 0
	for i := 0; total < size; i++ {
		kind := kinds[i%len(kinds)]
		parts := []string{header(kind, "src/pkg/x")}
		n, target := len(parts[0]), g.between(4_000, 16_000)
		for n < target {
			f := filler(g, kind)
			parts = append(parts, f)
			n += len(f) + 2
		}
		if i%50 == 7 {
			k := tokens[g.r.IntN(len(tokens))]
			v := g.unique(func() string { return k.value(g) })
			if k.wrap != nil {
				v = k.wrap(v)
			}
			name := nameOf(k.names[0])
			if kind == "json" {
				parts = append(parts, fmt.Sprintf("  %q: %q", name.camel, v))
			} else {
				parts = append(parts, fmt.Sprintf("%s = \"%s\"", name.snake, v))
			}
			secrets++
		}
		var text string
		if kind == "json" {
			text = "{\n" + strings.Join(parts, ",\n") + "\n}\n"
		} else {
			text = strings.Join(parts, "\n\n") + "\n"
		}
		files[fmt.Sprintf("src/%s/file%04d%s", kind, i, ext[kind])] = text
		total += len(text)
	}
	return files, secrets
}
