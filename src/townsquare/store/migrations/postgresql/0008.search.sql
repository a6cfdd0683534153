-- Full-text search (issue 8): a weighted tsvector on each post, with a GIN index over visible posts.
-- depends: 0007.websub
--
-- Weights: title A, blog name and author B, text D.  PostgreSQL's parser
-- skips HTML tags and entities, so the stored HTML is indexed as text.
-- Triggers keep the vector in step with the post and its blog's name;
-- hidden and duplicate posts stay out of the (partial) index and every
-- search leaves them out.
ALTER TABLE posts ADD COLUMN search_vector tsvector;

CREATE FUNCTION post_search_vector(title text, body_html text, blog text, author text)
RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(blog, '')), 'B')
        || setweight(to_tsvector('english', coalesce(author, '')), 'B')
        || setweight(to_tsvector('english', left(coalesce(body_html, ''), 500000)), 'D')
$$;

CREATE FUNCTION post_search_vector_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := post_search_vector(
        NEW.title, NEW.content_html, (SELECT title FROM sources WHERE id = NEW.source_id), NEW.author
    );
    RETURN NEW;
END
$$;

CREATE TRIGGER post_search_vector BEFORE INSERT OR UPDATE OF title, content_html, author, source_id
ON posts FOR EACH ROW EXECUTE FUNCTION post_search_vector_update();

CREATE FUNCTION post_search_blog_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE posts SET search_vector = post_search_vector(title, content_html, NEW.title, author)
    WHERE source_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER post_search_blog_name AFTER UPDATE OF title ON sources
FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
EXECUTE FUNCTION post_search_blog_name();

UPDATE posts p SET search_vector = post_search_vector(p.title, p.content_html, s.title, p.author)
FROM sources s WHERE s.id = p.source_id;

CREATE INDEX posts_search ON posts USING GIN (search_vector)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
