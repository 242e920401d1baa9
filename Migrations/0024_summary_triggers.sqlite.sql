-- What keeps 0023's totals: row triggers on tokens, receivables and financings, which fire inside
-- the block's own transaction.
CREATE TRIGGER tokens_children_insert AFTER INSERT ON tokens WHEN NEW.parent_id IS NOT NULL BEGIN
    INSERT INTO token_children (parent_id, children, amount_fen) SELECT NEW.parent_id, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM token_children WHERE parent_id = NEW.parent_id);
    UPDATE token_children SET children = children + 1, amount_fen = amount_fen + NEW.amount_fen WHERE parent_id = NEW.parent_id;
END
-- split
CREATE TRIGGER tokens_children_update AFTER UPDATE OF parent_id, amount_fen ON tokens
WHEN OLD.parent_id IS NOT NEW.parent_id OR OLD.amount_fen <> NEW.amount_fen BEGIN
    UPDATE token_children SET children = children - 1, amount_fen = amount_fen - OLD.amount_fen WHERE parent_id = OLD.parent_id;
    INSERT INTO token_children (parent_id, children, amount_fen) SELECT NEW.parent_id, 0, 0 WHERE NEW.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM token_children WHERE parent_id = NEW.parent_id);
    UPDATE token_children SET children = children + 1, amount_fen = amount_fen + NEW.amount_fen WHERE parent_id = NEW.parent_id;
END
-- split
CREATE TRIGGER tokens_children_delete AFTER DELETE ON tokens WHEN OLD.parent_id IS NOT NULL BEGIN
    UPDATE token_children SET children = children - 1, amount_fen = amount_fen - OLD.amount_fen WHERE parent_id = OLD.parent_id;
END
-- split
CREATE TRIGGER tokens_payable_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO receivable_totals (receivable_id, payable_fen) SELECT NEW.receivable_id, 0 WHERE NOT EXISTS (SELECT 1 FROM receivable_totals WHERE receivable_id = NEW.receivable_id);
    UPDATE receivable_totals SET payable_fen = payable_fen + CASE WHEN NEW.status IN ('active', 'locked') THEN NEW.amount_fen ELSE 0 END WHERE receivable_id = NEW.receivable_id;
END
-- split
CREATE TRIGGER tokens_payable_update AFTER UPDATE OF status, amount_fen, receivable_id ON tokens
WHEN OLD.receivable_id <> NEW.receivable_id OR CASE WHEN OLD.status IN ('active', 'locked') THEN OLD.amount_fen ELSE 0 END <> CASE WHEN NEW.status IN ('active', 'locked') THEN NEW.amount_fen ELSE 0 END BEGIN
    UPDATE receivable_totals SET payable_fen = payable_fen - CASE WHEN OLD.status IN ('active', 'locked') THEN OLD.amount_fen ELSE 0 END WHERE receivable_id = OLD.receivable_id;
    INSERT INTO receivable_totals (receivable_id, payable_fen) SELECT NEW.receivable_id, 0 WHERE NOT EXISTS (SELECT 1 FROM receivable_totals WHERE receivable_id = NEW.receivable_id);
    UPDATE receivable_totals SET payable_fen = payable_fen + CASE WHEN NEW.status IN ('active', 'locked') THEN NEW.amount_fen ELSE 0 END WHERE receivable_id = NEW.receivable_id;
END
-- split
CREATE TRIGGER tokens_payable_delete AFTER DELETE ON tokens BEGIN
    UPDATE receivable_totals SET payable_fen = payable_fen - CASE WHEN OLD.status IN ('active', 'locked') THEN OLD.amount_fen ELSE 0 END WHERE receivable_id = OLD.receivable_id;
END
-- split
CREATE TRIGGER receivables_totals_insert AFTER INSERT ON receivables BEGIN
    INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) SELECT NEW.issuer_id, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM org_totals WHERE org_id = NEW.issuer_id);
    UPDATE org_totals SET outstanding_fen = outstanding_fen + CASE WHEN NEW.status IN ('pending', 'active', 'overdue') THEN NEW.face_fen - NEW.paid_fen ELSE 0 END WHERE org_id = NEW.issuer_id;
END
-- split
CREATE TRIGGER receivables_totals_update AFTER UPDATE OF status, face_fen, paid_fen, issuer_id ON receivables
WHEN OLD.issuer_id <> NEW.issuer_id OR CASE WHEN OLD.status IN ('pending', 'active', 'overdue') THEN OLD.face_fen - OLD.paid_fen ELSE 0 END <> CASE WHEN NEW.status IN ('pending', 'active', 'overdue') THEN NEW.face_fen - NEW.paid_fen ELSE 0 END BEGIN
    UPDATE org_totals SET outstanding_fen = outstanding_fen - CASE WHEN OLD.status IN ('pending', 'active', 'overdue') THEN OLD.face_fen - OLD.paid_fen ELSE 0 END WHERE org_id = OLD.issuer_id;
    INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) SELECT NEW.issuer_id, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM org_totals WHERE org_id = NEW.issuer_id);
    UPDATE org_totals SET outstanding_fen = outstanding_fen + CASE WHEN NEW.status IN ('pending', 'active', 'overdue') THEN NEW.face_fen - NEW.paid_fen ELSE 0 END WHERE org_id = NEW.issuer_id;
END
-- split
CREATE TRIGGER receivables_totals_delete AFTER DELETE ON receivables BEGIN
    UPDATE org_totals SET outstanding_fen = outstanding_fen - CASE WHEN OLD.status IN ('pending', 'active', 'overdue') THEN OLD.face_fen - OLD.paid_fen ELSE 0 END WHERE org_id = OLD.issuer_id;
END
-- split
CREATE TRIGGER financings_totals_insert AFTER INSERT ON financings BEGIN
    INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) SELECT NEW.bank_id, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM org_totals WHERE org_id = NEW.bank_id);
    UPDATE org_totals SET financed_fen = financed_fen + CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen ELSE 0 END, financed_rate = financed_rate + CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen * NEW.rate_bps ELSE 0 END WHERE org_id = NEW.bank_id;
END
-- split
CREATE TRIGGER financings_totals_update AFTER UPDATE OF status, amount_fen, rate_bps, bank_id ON financings
WHEN OLD.bank_id <> NEW.bank_id OR CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen ELSE 0 END <> CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen ELSE 0 END OR CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen * OLD.rate_bps ELSE 0 END <> CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen * NEW.rate_bps ELSE 0 END BEGIN
    UPDATE org_totals SET financed_fen = financed_fen - CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen ELSE 0 END, financed_rate = financed_rate - CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen * OLD.rate_bps ELSE 0 END WHERE org_id = OLD.bank_id;
    INSERT INTO org_totals (org_id, outstanding_fen, financed_fen, financed_rate) SELECT NEW.bank_id, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM org_totals WHERE org_id = NEW.bank_id);
    UPDATE org_totals SET financed_fen = financed_fen + CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen ELSE 0 END, financed_rate = financed_rate + CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount_fen * NEW.rate_bps ELSE 0 END WHERE org_id = NEW.bank_id;
END
-- split
CREATE TRIGGER financings_totals_delete AFTER DELETE ON financings BEGIN
    UPDATE org_totals SET financed_fen = financed_fen - CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen ELSE 0 END, financed_rate = financed_rate - CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount_fen * OLD.rate_bps ELSE 0 END WHERE org_id = OLD.bank_id;
END
