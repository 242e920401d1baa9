-- What keeps 0023's totals: row triggers on tokens, receivables and financings, which fire inside
-- the block writer's own statement.
CREATE FUNCTION cascade_token_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before_fen BIGINT := 0;
    after_fen BIGINT := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.parent_id IS NOT NULL THEN
            INSERT INTO token_children (parent_id, children, amount_fen) VALUES (NEW.parent_id, 1, NEW.amount_fen)
            ON CONFLICT (parent_id) DO UPDATE SET children = token_children.children + 1, amount_fen = token_children.amount_fen + EXCLUDED.amount_fen;
        END IF;
        IF NEW.status IN ('active', 'locked') THEN after_fen := NEW.amount_fen; END IF;
        INSERT INTO receivable_totals (receivable_id, payable_fen) VALUES (NEW.receivable_id, after_fen)
        ON CONFLICT (receivable_id) DO UPDATE SET payable_fen = receivable_totals.payable_fen + EXCLUDED.payable_fen;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.parent_id IS NOT NULL THEN
            UPDATE token_children SET children = children - 1, amount_fen = amount_fen - OLD.amount_fen WHERE parent_id = OLD.parent_id;
        END IF;
        IF OLD.status IN ('active', 'locked') THEN
            UPDATE receivable_totals SET payable_fen = payable_fen - OLD.amount_fen WHERE receivable_id = OLD.receivable_id;
        END IF;
    ELSE
        IF OLD.parent_id IS DISTINCT FROM NEW.parent_id OR OLD.amount_fen <> NEW.amount_fen THEN
            IF OLD.parent_id IS NOT NULL THEN
                UPDATE token_children SET children = children - 1, amount_fen = amount_fen - OLD.amount_fen WHERE parent_id = OLD.parent_id;
            END IF;
            IF NEW.parent_id IS NOT NULL THEN
                INSERT INTO token_children (parent_id, children, amount_fen) VALUES (NEW.parent_id, 1, NEW.amount_fen)
                ON CONFLICT (parent_id) DO UPDATE SET children = token_children.children + 1, amount_fen = token_children.amount_fen + EXCLUDED.amount_fen;
            END IF;
        END IF;
        IF OLD.status IN ('active', 'locked') THEN before_fen := OLD.amount_fen; END IF;
        IF NEW.status IN ('active', 'locked') THEN after_fen := NEW.amount_fen; END IF;
        IF OLD.receivable_id <> NEW.receivable_id OR before_fen <> after_fen THEN
            UPDATE receivable_totals SET payable_fen = payable_fen - before_fen WHERE receivable_id = OLD.receivable_id;
            INSERT INTO receivable_totals (receivable_id, payable_fen) VALUES (NEW.receivable_id, after_fen)
            ON CONFLICT (receivable_id) DO UPDATE SET payable_fen = receivable_totals.payable_fen + EXCLUDED.payable_fen;
        END IF;
    END IF;
    RETURN NULL;
END
$$
-- split
CREATE TRIGGER tokens_totals AFTER INSERT OR UPDATE OR DELETE ON tokens FOR EACH ROW EXECUTE FUNCTION cascade_token_totals()
-- split
CREATE FUNCTION cascade_receivable_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before_fen BIGINT := 0;
    after_fen BIGINT := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.status IN ('pending', 'active', 'overdue') THEN before_fen := OLD.face_fen - OLD.paid_fen; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.status IN ('pending', 'active', 'overdue') THEN after_fen := NEW.face_fen - NEW.paid_fen; END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.issuer_id = NEW.issuer_id AND before_fen = after_fen THEN RETURN NULL; END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        UPDATE org_totals SET outstanding_fen = outstanding_fen - before_fen WHERE org_id = OLD.issuer_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) VALUES (NEW.issuer_id, after_fen, 0, 0)
        ON CONFLICT (org_id) DO UPDATE SET outstanding_fen = org_totals.outstanding_fen + EXCLUDED.outstanding_fen;
    END IF;
    RETURN NULL;
END
$$
-- split
CREATE TRIGGER receivables_totals AFTER INSERT OR UPDATE OR DELETE ON receivables FOR EACH ROW EXECUTE FUNCTION cascade_receivable_totals()
-- split
CREATE FUNCTION cascade_financing_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before_fen BIGINT := 0;
    before_rate NUMERIC := 0;
    after_fen BIGINT := 0;
    after_rate NUMERIC := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.status IN ('approved', 'paid') THEN before_fen := OLD.amount_fen; before_rate := OLD.amount_fen::NUMERIC * OLD.rate_bps; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.status IN ('approved', 'paid') THEN after_fen := NEW.amount_fen; after_rate := NEW.amount_fen::NUMERIC * NEW.rate_bps; END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.bank_id = NEW.bank_id AND before_fen = after_fen AND before_rate = after_rate THEN RETURN NULL; END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        UPDATE org_totals SET financed_fen = financed_fen - before_fen, financed_rate = financed_rate - before_rate WHERE org_id = OLD.bank_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) VALUES (NEW.bank_id, 0, after_fen, after_rate)
        ON CONFLICT (org_id) DO UPDATE SET financed_fen = org_totals.financed_fen + EXCLUDED.financed_fen,
                                           financed_rate = org_totals.financed_rate + EXCLUDED.financed_rate;
    END IF;
    RETURN NULL;
END
$$
-- split
CREATE TRIGGER financings_totals AFTER INSERT OR UPDATE OR DELETE ON financings FOR EACH ROW EXECUTE FUNCTION cascade_financing_totals()
