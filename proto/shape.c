/*
 * shape.c — the shapes of the structured string fields (proto/shape.h):
 * patterns (UUID, semver, locale, invite code) and lists of well-known
 * values (provider types and their public hosts, model id families,
 * builtin tools and slash commands, well-known MCP servers, error kinds).
 * A value outside its shape becomes "<custom>": a user's MCP server name,
 * a fine-tuned model id naming an organisation, an internal provider host
 * or a custom slash command never leaves the machine as given.
 *
 * Must never: do I/O, allocate, keep state, or accept a value because it
 * merely starts like a known one (the whole value must fit).
 */
#include <string.h>

#include "shape.h"

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_alpha(unsigned char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Is p[0..n) one of list (case-insensitive when ci)? */
static int
in_list(const char *const *list, size_t nl, const char *p, size_t n, int ci)
{
	size_t	 k, i;

	if (n == 0)
		return 0;
	for (k = 0; k < nl; k++) {
		if ((unsigned char)list[k][0] != (ci ? lower((unsigned char)p[0]) :
		    (unsigned char)p[0]) || strlen(list[k]) != n)
			continue;
		for (i = 0; i < n; i++) {
			if ((ci ? lower((unsigned char)p[i]) :
			    (unsigned char)p[i]) != (unsigned char)list[k][i])
				break;
		}
		if (i == n)
			return 1;
	}
	return 0;
}
#define IN_LIST(l, p, n, ci)	in_list(l, sizeof l / sizeof l[0], p, n, ci)

static int
uuid_like(const char *p, size_t n)
{
	size_t	 i;

	if (n != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (p[i] != '-')
				return 0;
		} else if (!is_digit((unsigned char)p[i]) &&
		    !(p[i] >= 'a' && p[i] <= 'f'))
			return 0;
	}
	return 1;
}

/* ---- lists ---- */

static const char *const providers[] = {
	"openai", "anthropic", "claude", "ollama", "deepseek", "gemini",
	"google", "vertex", "vertexai", "azure", "azure_openai", "bedrock",
	"aws", "mistral", "groq", "openrouter", "together", "fireworks", "xai",
	"grok", "moonshot", "kimi", "qwen", "dashscope", "aliyun", "zhipu",
	"glm", "bigmodel", "baichuan", "minimax", "yi", "lingyiwanwu",
	"siliconflow", "volcengine", "doubao", "ark", "hunyuan", "tencent",
	"stepfun", "baidu", "qianfan", "ernie", "spark", "iflytek",
	"perplexity", "cohere", "huggingface", "replicate", "github",
	"copilot", "gitcode", "atomgit", "atomcode", "lmstudio", "vllm",
	"llamacpp", "llama.cpp", "localai", "cerebras", "sambanova", "novita",
	"deepinfra", "nvidia", "openai_compatible", "openai-compatible",
	"anthropic_compatible", "custom",
};

/* Public hosts of model providers (provider_host keeps only these). */
static const char *const provider_hosts[] = {
	"localhost", "127.0.0.1", "api.openai.com", "api.anthropic.com",
	"api.deepseek.com", "generativelanguage.googleapis.com",
	"aiplatform.googleapis.com", "api.mistral.ai", "codestral.mistral.ai",
	"api.groq.com", "openrouter.ai", "api.together.xyz", "api.together.ai",
	"api.fireworks.ai", "api.x.ai", "api.moonshot.cn", "api.moonshot.ai",
	"dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com",
	"open.bigmodel.cn", "api.z.ai", "api.siliconflow.cn",
	"api.siliconflow.com", "ark.cn-beijing.volces.com",
	"api.minimax.chat", "api.minimaxi.com", "api.baichuan-ai.com",
	"api.lingyiwanwu.com", "api.stepfun.com",
	"api.hunyuan.cloud.tencent.com", "qianfan.baidubce.com",
	"spark-api-open.xf-yun.com", "api.perplexity.ai", "api.cohere.ai",
	"api.cohere.com", "api-inference.huggingface.co",
	"router.huggingface.co", "api.replicate.com",
	"models.inference.ai.azure.com", "models.github.ai",
	"api.githubcopilot.com", "api.individual.githubcopilot.com",
	"api-ai.gitcode.com", "api.gitcode.com", "api.atomgit.com",
	"bedrock-runtime.us-east-1.amazonaws.com",
	"bedrock-runtime.us-west-2.amazonaws.com",
	"bedrock-runtime.eu-central-1.amazonaws.com",
	"bedrock-runtime.ap-northeast-1.amazonaws.com", "api.cerebras.ai",
	"api.sambanova.ai", "api.novita.ai", "api.deepinfra.com",
	"integrate.api.nvidia.com",
};

/* Families a public model id starts with (gpt-4o, claude-3-5-sonnet). */
static const char *const model_families[] = {
	"gpt", "chatgpt", "o1", "o3", "o4", "codex", "text-embedding",
	"davinci", "babbage", "whisper", "tts", "dall-e", "claude", "gemini",
	"gemma", "palm", "llama", "codellama", "mistral", "mixtral",
	"codestral", "ministral", "pixtral", "magistral", "devstral", "qwen",
	"qwq", "qvq", "deepseek", "glm", "chatglm", "codegeex", "moonshot",
	"kimi", "yi", "baichuan", "abab", "minimax", "ernie", "hunyuan",
	"doubao", "spark", "step", "grok", "command", "phi", "starcoder",
	"starcoder2", "granite", "nemotron", "jamba", "sonar", "llava",
	"falcon", "internlm", "olmo", "smollm", "atomcode", "nomic",
	"mxbai", "bge", "embed", "rerank", "seed", "kat", "ling", "ring",
};

/* Organisations of public "org/model" ids. */
static const char *const model_orgs[] = {
	"meta-llama", "mistralai", "qwen", "deepseek-ai", "google",
	"microsoft", "openai", "anthropic", "thudm", "zai-org", "moonshotai",
	"01-ai", "baichuan-inc", "internlm", "ibm-granite", "nvidia",
	"bigcode", "tiiuae", "x-ai", "xai", "cohere", "deepseek", "meta",
};

/* Words a public model id may carry after its family. */
static const char *const model_words[] = {
	"mini", "nano", "micro", "small", "medium", "large", "xl", "xxl",
	"turbo", "preview", "instruct", "chat", "latest", "pro", "flash",
	"lite", "ultra", "plus", "max", "sonnet", "opus", "haiku", "coder",
	"code", "vision", "vl", "omni", "audio", "realtime", "search",
	"thinking", "think", "reasoner", "reasoning", "exp", "experimental",
	"base", "it", "hf", "awq", "gptq", "gguf", "fp8", "fp16", "bf16",
	"int4", "int8", "beta", "alpha", "online", "air", "airx", "long",
	"embed", "embedding", "embeddings", "text", "image", "transcribe",
	"moe", "distill", "math", "instruct", "ada", "davinci", "high",
	"low", "nothink", "non", "fast", "express", "lightning", "standard",
	"generate", "tool", "use", "computer", "oss", "dev", "next", "r",
	"v", "o", "k", "m", "e", "x", "s", "b", "t", "q", "a", "mix",
	"4o", "multilingual", "english", "chinese", "en", "zh", "latest",
	"default", "auto", "free", "pro", "max", "tiny", "edge", "cloud",
};

/* Agent-side origins of an LLM call (surface). */
static const char *const surfaces[] = {
	"code_review", "review", "compaction", "compact", "summary",
	"summarize", "title", "commit_message", "subagent", "sub_agent",
	"task", "plan", "planner", "explore", "search", "web_search",
	"web_fetch", "memory", "init", "agent", "main", "chat", "completion",
	"autocomplete", "inline", "edit", "apply", "rewrite", "explain",
	"test", "fix", "codingplan", "title_generation", "router",
};

/* Builtin tools (tool_call.name). */
static const char *const tools[] = {
	"bash", "shell", "powershell", "read_file", "write_file", "edit_file",
	"multi_edit", "multiedit", "apply_patch", "create_file", "delete_file",
	"move_file", "list_dir", "list_directory", "list_files", "ls", "glob",
	"grep", "search", "search_files", "find_files", "codebase_search",
	"web_fetch", "web_search", "webfetch", "websearch", "fetch",
	"todo_write", "todo_read", "todowrite", "task", "agent", "subagent",
	"think", "plan", "exit_plan_mode", "ask_user", "ask_user_question",
	"notebook_edit", "notebook_read", "view_image", "screenshot", "lsp",
	"diagnostics", "run_tests", "git", "skill", "memory", "read", "write",
	"edit", "view", "str_replace_editor", "str_replace", "insert",
	"kill_shell", "bash_output", "slash_command", "code_review",
	"browser", "computer",
};

/* Builtin slash commands (use_command.type; "/new" is "session"). */
static const char *const commands[] = {
	"session", "new", "help", "clear", "compact", "model", "models",
	"login", "logout", "init", "config", "settings", "cost", "usage",
	"memory", "review", "resume", "continue", "status", "exit", "quit",
	"mcp", "agents", "agent", "permissions", "doctor", "bug", "feedback",
	"theme", "vim", "export", "import", "add-dir", "hooks", "ide",
	"upgrade", "update", "codingplan", "plan", "undo", "redo", "rewind",
	"diff", "commit", "pr", "pr-comments", "security-review",
	"terminal-setup", "context", "todos", "tasks", "skills",
	"output-style", "statusline", "privacy-settings", "release-notes",
	"version", "copy", "history", "sessions", "provider", "providers",
	"mode", "approve", "yolo", "think", "web", "search", "files", "tools",
	"telemetry", "language", "lang", "reset", "retry", "edit", "share",
	"invite", "referral", "install", "uninstall", "logs", "debug",
	"keybindings", "fast", "auto", "tui", "shortcuts", "btw", "cd",
};

/* Well-known MCP servers (mcp_connect.server_name, mcp__<server>__). */
static const char *const mcp_servers[] = {
	"filesystem", "fs", "github", "gitlab", "git", "fetch", "memory",
	"puppeteer", "playwright", "brave-search", "brave_search", "postgres",
	"sqlite", "slack", "sequential-thinking", "sequential_thinking",
	"sequentialthinking", "everything", "time", "google-maps",
	"google-drive", "gdrive", "aws-kb-retrieval", "sentry", "redis",
	"context7", "exa", "tavily", "firecrawl", "notion", "linear", "jira",
	"atlassian", "figma", "stripe", "supabase", "vercel", "cloudflare",
	"docker", "kubernetes", "chrome-devtools", "chrome_devtools",
	"browserbase", "perplexity", "obsidian", "everart", "mongodb",
	"mysql", "desktop-commander", "serena", "deepwiki", "huggingface",
	"atomgit", "gitcode", "browser", "shell", "terminal", "weather",
	"ide", "atomcode",
};

/* Known error kinds (all events' enums, upstream). */
static const char *const kinds[] = {
	"network_error", "auth_error", "rate_limited", "server_error",
	"stream_interrupted", "stream_timeout", "context_overflow", "other",
	"not_found", "invalid_args", "execution_failed", "denied_by_user",
	"blocked_by_hook", "loop_detected", "skill_not_found",
	"skill_disabled", "skill_empty_template", "warning", "timeout",
	"auth_expired", "panic", "cancelled", "canceled", "permission_denied",
	"invalid_request", "unavailable", "io_error", "parse_error",
	"internal_error", "quota_exceeded", "context_length_exceeded",
};

/* ---- patterns ---- */

/* Pre-release and build words of a semver. */
static int
semver_word(const char *p, size_t n)
{
	static const char *const w[] = {
		"alpha", "beta", "rc", "dev", "pre", "preview", "nightly",
		"canary", "snapshot", "next", "insiders", "release", "stable",
		"build", "post",
	};
	size_t	 k;

	while (n > 0 && is_digit((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return 1;
	for (k = 0; k < sizeof w / sizeof w[0]; k++) {
		if (strlen(w[k]) == n && memcmp(w[k], p, n) == 0)
			return 1;
	}
	/* a build hash: g1a2b3c4, 1a2b3c4d */
	for (k = p[0] == 'g' ? 1 : 0; k < n; k++) {
		if (!is_digit((unsigned char)p[k]) &&
		    !(p[k] >= 'a' && p[k] <= 'f'))
			return 0;
	}
	return n >= 7 && n <= 12;
}

static int
semver(const char *p, size_t n)
{
	size_t	 k = 0, g, parts;

	for (parts = 0; parts < 3; parts++) {
		for (g = k; k < n && is_digit((unsigned char)p[k]) &&
		    k - g < 9; k++)
			;
		if (k == g)
			return 0;
		if (parts < 2) {
			if (k >= n || p[k] != '.')
				return 0;
			k++;
		}
	}
	while (k < n) {
		if (p[k] != '-' && p[k] != '+' && p[k] != '.')
			return 0;
		for (g = ++k; k < n && (is_lower((unsigned char)p[k]) ||
		    is_digit((unsigned char)p[k])); k++)
			;
		if (k == g || !semver_word(p + g, k - g))
			return 0;
	}
	return n <= 64;
}

/* ISO 639 language codes a locale may start with. */
static const char *const languages[] = {
	"aa", "af", "ak", "am", "an", "ar", "as", "ast", "az", "be", "bg", "bn",
	"bo", "br", "bs", "ca", "ce", "ckb", "cs", "cv", "cy", "da", "de", "dv",
	"dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fil",
	"fo", "fr", "fur", "fy", "ga", "gd", "gl", "gu", "gv", "ha", "haw", "he",
	"hi", "hr", "ht", "hu", "hy", "ia", "id", "ig", "ii", "is", "it", "iu",
	"ja", "jv", "ka", "kk", "kl", "km", "kn", "ko", "kok", "ks", "ku", "kw",
	"ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lv", "mai", "mg", "mi",
	"mk", "ml", "mn", "mr", "ms", "mt", "my", "nb", "ne", "nl", "nn", "no",
	"nr", "nso", "oc", "om", "or", "os", "pa", "pl", "ps", "pt", "qu", "rm",
	"ro", "ru", "rw", "sa", "sc", "sd", "se", "si", "sk", "sl", "so", "sq",
	"sr", "ss", "st", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl",
	"tn", "to", "tr", "ts", "tt", "ug", "uk", "ur", "uz", "ve", "vi", "wa",
	"wo", "xh", "yi", "yo", "yue", "zh", "zu",
};

/* Scripts and variants a locale may name (zh-Hans-CN, sr-RS@latin). */
static const char *const scripts[] = {
	"Hans", "Hant", "Latn", "Cyrl", "Arab", "Deva", "Beng", "Guru",
};
static const char *const variants[] = {
	"latin", "cyrillic", "euro", "valencia", "devanagari", "iqtelif",
	"saaho", "abegede",
};

/*
 * ll-CC, ll-Scri-CC, ll-419, C, POSIX, "" (as upstream builds it): a
 * known language, then a script, a region of two capital letters (or
 * three digits) and a known variant, each optional.
 */
static int
locale(const char *p, size_t n)
{
	size_t	 k = 0, g;

	if (n == 0 || (n == 1 && p[0] == 'C') ||
	    (n == 5 && memcmp(p, "POSIX", 5) == 0))
		return 1;
	while (k < n && is_lower((unsigned char)p[k]))
		k++;
	if (!IN_LIST(languages, p, k, 0))
		return 0;
	if (k + 5 <= n && p[k] == '-' && IN_LIST(scripts, p + k + 1, 4, 0))
		k += 5;
	if (k < n && p[k] == '-') {
		g = ++k;
		if (n - g >= 2 && p[g] >= 'A' && p[g] <= 'Z' &&
		    p[g + 1] >= 'A' && p[g + 1] <= 'Z')
			k += 2;
		else if (n - g >= 3 && is_digit((unsigned char)p[g]) &&
		    is_digit((unsigned char)p[g + 1]) &&
		    is_digit((unsigned char)p[g + 2]))
			k += 3;
		else
			return 0;
	}
	if (k < n && p[k] == '@') {
		for (g = ++k; k < n && is_lower((unsigned char)p[k]); k++)
			;
		if (!IN_LIST(variants, p + g, k - g, 0))
			return 0;
	}
	return k == n;
}

static int
invite(const char *p, size_t n)
{
	size_t	 k;

	if (n < 4 || n > 32)
		return 0;
	for (k = 0; k < n; k++) {
		if (!is_alpha((unsigned char)p[k]) &&
		    !is_digit((unsigned char)p[k]))
			return 0;
	}
	return 1;
}

static int
account(const char *p, size_t n)
{
	size_t	 k;

	if (uuid_like(p, n))
		return 1;
	if (n == 0 || n > 20)
		return 0;
	for (k = 0; k < n; k++) {
		if (!is_digit((unsigned char)p[k]))
			return 0;
	}
	return 1;
}

/*
 * One segment of a model id after its family: a qualifier word, or a
 * version-like run: [a-z]{0,2} digits [.digits] [a-z]{0,2}, "8x7b".
 */
static int
model_seg(const char *p, size_t n)
{
	char		 lc[16];
	size_t		 k = 0, g;

	if (n == 0 || n > sizeof lc)
		return 0;
	for (k = 0; k < n; k++)
		lc[k] = (char)lower((unsigned char)p[k]);
	if (IN_LIST(model_words, lc, n, 0))
		return 1;
	k = 0;
	while (k < n && k < 2 && is_lower((unsigned char)lc[k]))
		k++;
	for (g = k; k < n && is_digit((unsigned char)lc[k]); k++)
		;
	if (k == g || k - g > 8)
		return 0;
	if (k < n && lc[k] == 'x' && k + 1 < n &&
	    is_digit((unsigned char)lc[k + 1]))	/* 8x7b */
		for (k++; k < n && is_digit((unsigned char)lc[k]); k++)
			;
	if (k < n && lc[k] == 'p' && k + 1 < n &&
	    is_digit((unsigned char)lc[k + 1]))	/* v3p1 */
		for (k++; k < n && is_digit((unsigned char)lc[k]); k++)
			;
	for (g = k; k < n && is_lower((unsigned char)lc[k]) && k - g < 2; k++)
		;
	if (k < n && is_digit((unsigned char)lc[k]))	/* a3b, e4b */
		for (; k < n && (is_digit((unsigned char)lc[k]) ||
		    is_lower((unsigned char)lc[k])) && k - g < 4; k++)
			;
	return k == n;
}

/* A public model id: [org/]family[version](-segment)* */
static int
model(const char *p, size_t n)
{
	char		 lc[24];
	const char	*sl;
	size_t		 k, f, best = 0, i, l;

	if (n == 0 || n > 96)
		return 0;
	if ((sl = memchr(p, '/', n)) != NULL) {
		l = (size_t)(sl - p);
		if (l > sizeof lc)
			return 0;
		for (i = 0; i < l; i++)
			lc[i] = (char)lower((unsigned char)p[i]);
		if (!IN_LIST(model_orgs, lc, l, 0))
			return 0;
		p = sl + 1;
		n -= l + 1;
		if (n == 0 || memchr(p, '/', n) != NULL)
			return 0;
	}
	/* the longest family that starts the id, followed by a separator,
	 * digits or the end */
	for (f = 0; f < sizeof model_families / sizeof model_families[0];
	    f++) {
		l = strlen(model_families[f]);
		if (l > n || l <= best)
			continue;
		for (i = 0; i < l; i++) {
			if (lower((unsigned char)p[i]) !=
			    (unsigned char)model_families[f][i])
				break;
		}
		if (i == l && (l == n || p[l] == '-' || p[l] == '.' ||
		    p[l] == '_' || p[l] == ':' || is_digit((unsigned char)p[l])))
			best = l;
	}
	if (best == 0)
		return 0;
	/* the rest: segments joined by - . _ : */
	for (k = best; k < n; ) {
		if (p[k] == '-' || p[k] == '.' || p[k] == '_' || p[k] == ':') {
			k++;
			if (k == n)
				return 0;
		}
		for (i = k; k < n && p[k] != '-' && p[k] != '.' &&
		    p[k] != '_' && p[k] != ':'; k++)
			;
		if (!model_seg(p + i, k - i))
			return 0;
	}
	return 1;
}

/*
 * provider_host: the host of the value (scheme, userinfo, port and path
 * cut, as upstream does with a base URL) when it is a known public
 * provider host.
 */
static int
provider_host(const char *p, size_t n, const char **out, size_t *outn)
{
	const char	*h = p, *e = p + n, *q;
	size_t		 k;

	for (q = p; q + 2 < e; q++) {
		if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
			h = q + 3;
			break;
		}
	}
	for (q = h; q < e && *q != '/' && *q != '?' && *q != '#'; q++)
		;
	e = q;
	for (q = h; q < e; q++) {	/* userinfo */
		if (*q == '@')
			h = q + 1;
	}
	for (q = h; q < e && *q != ':'; q++)	/* port */
		;
	e = q;
	for (k = 0; k < sizeof provider_hosts / sizeof provider_hosts[0];
	    k++) {
		if (strlen(provider_hosts[k]) == (size_t)(e - h) &&
		    in_list(&provider_hosts[k], 1, h, (size_t)(e - h), 1)) {
			*out = provider_hosts[k];
			*outn = (size_t)(e - h);
			return 1;
		}
	}
	return 0;
}

/* tool_call.name: a builtin tool, or mcp__<well-known server>__<tool>. */
static int
tool(const char *p, size_t n)
{
	const char	*s, *t;
	size_t		 k;

	if (IN_LIST(tools, p, n, 0))
		return 1;
	if (n < 8 || memcmp(p, "mcp__", 5) != 0)
		return 0;
	s = p + 5;
	for (t = s; t + 1 < p + n && !(t[0] == '_' && t[1] == '_'); t++)
		;
	if (t + 2 >= p + n || !IN_LIST(mcp_servers, s, (size_t)(t - s), 1))
		return 0;
	for (k = (size_t)(t + 2 - p); k < n; k++) {
		if (!is_lower((unsigned char)p[k]) &&
		    !is_digit((unsigned char)p[k]) && p[k] != '_' &&
		    p[k] != '-')
			return 0;
	}
	return n - (size_t)(t + 2 - p) <= 64;
}

/*
 * What each shape accepts as given: a word of its list, or a value its
 * function recognises. provider_host may also reduce an unknown host to
 * its public provider; error_kind outside its list becomes "other".
 */
#define RULE_LIST(l)	NULL, l, sizeof l / sizeof l[0]
static const struct {
	int			(*fn)(const char *, size_t);
	const char *const	*list;
	size_t			 nlist;
} shape_rules[SH_N] = {
	[SH_ACCOUNT] = { account, NULL, 0 },
	[SH_UUIDISH] = { uuid_like, NULL, 0 },
	[SH_SEMVER] = { semver, NULL, 0 },
	[SH_LOCALE] = { locale, NULL, 0 },
	[SH_PROVIDER] = { RULE_LIST(providers) },
	[SH_PHOST] = { RULE_LIST(provider_hosts) },
	[SH_MODEL] = { model, NULL, 0 },
	[SH_SURFACE] = { RULE_LIST(surfaces) },
	[SH_TOOL] = { tool, NULL, 0 },
	[SH_COMMAND] = { RULE_LIST(commands) },
	[SH_MCP] = { RULE_LIST(mcp_servers) },
	[SH_INVITE] = { invite, NULL, 0 },
	[SH_KIND] = { RULE_LIST(kinds) },
};
#undef RULE_LIST

/* Check p[0..n) against its shape (see shape.h). */
int
shape_fix(enum shape sh, const char *p, size_t n, const char **out,
    size_t *outn)
{
	int	 ok;

	if (n == sizeof SHAPE_CUSTOM - 1 && memcmp(p, SHAPE_CUSTOM, n) == 0)
		return 0;	/* already reduced */
	if (sh == SH_NONE)
		return 0;
	if (sh < SH_NONE || sh >= SH_N)
		goto custom;	/* no such shape: fail closed */
	if (shape_rules[sh].list != NULL &&
	    in_list(shape_rules[sh].list, shape_rules[sh].nlist, p, n, 0))
		return 0;
	if (sh == SH_PHOST && provider_host(p, n, out, outn))
		return 1;
	if (sh == SH_KIND) {
		*out = SHAPE_KIND_OTHER;
		*outn = sizeof SHAPE_KIND_OTHER - 1;
		return 1;
	}
	ok = shape_rules[sh].fn != NULL && shape_rules[sh].fn(p, n);
	if (ok)
		return 0;
custom:
	*out = SHAPE_CUSTOM;
	*outn = sizeof SHAPE_CUSTOM - 1;
	return 1;
}
