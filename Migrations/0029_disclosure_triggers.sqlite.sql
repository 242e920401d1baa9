-- What keeps 0028's disclosure totals: triggers on receivables. Each row adds what its status says
-- to its issuer's totals; an update takes the old row's share away first. (The NOT EXISTS guard,
-- not INSERT OR IGNORE: the block writer's upsert's conflict policy would override that.)
CREATE TRIGGER receivables_disclosures_insert AFTER INSERT ON receivables BEGIN
    INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
    SELECT NEW.issuer_id, 0, 0, 0, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM issuer_disclosures WHERE org_id = NEW.issuer_id);
    UPDATE issuer_disclosures SET
        outstanding_fen = outstanding_fen + CASE WHEN NEW.status IN ('active', 'overdue') THEN NEW.face_fen - NEW.paid_fen ELSE 0 END,
        outstanding_count = outstanding_count + CASE WHEN NEW.status IN ('active', 'overdue') THEN 1 ELSE 0 END,
        overdue_fen = overdue_fen + CASE WHEN NEW.status = 'overdue' THEN NEW.face_fen - NEW.paid_fen ELSE 0 END,
        overdue_count = overdue_count + CASE WHEN NEW.status = 'overdue' THEN 1 ELSE 0 END,
        on_time_count = on_time_count + CASE WHEN NEW.status = 'settled' AND NEW.overdue_on IS NULL THEN 1 ELSE 0 END,
        late_count = late_count + CASE WHEN NEW.status = 'settled' AND NEW.overdue_on IS NOT NULL THEN 1 ELSE 0 END
    WHERE org_id = NEW.issuer_id;
END
-- split
CREATE TRIGGER receivables_disclosures_update AFTER UPDATE OF status, face_fen, paid_fen, issuer_id, overdue_on ON receivables BEGIN
    INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
    SELECT OLD.issuer_id, 0, 0, 0, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM issuer_disclosures WHERE org_id = OLD.issuer_id);
    UPDATE issuer_disclosures SET
        outstanding_fen = outstanding_fen - CASE WHEN OLD.status IN ('active', 'overdue') THEN OLD.face_fen - OLD.paid_fen ELSE 0 END,
        outstanding_count = outstanding_count - CASE WHEN OLD.status IN ('active', 'overdue') THEN 1 ELSE 0 END,
        overdue_fen = overdue_fen - CASE WHEN OLD.status = 'overdue' THEN OLD.face_fen - OLD.paid_fen ELSE 0 END,
        overdue_count = overdue_count - CASE WHEN OLD.status = 'overdue' THEN 1 ELSE 0 END,
        on_time_count = on_time_count - CASE WHEN OLD.status = 'settled' AND OLD.overdue_on IS NULL THEN 1 ELSE 0 END,
        late_count = late_count - CASE WHEN OLD.status = 'settled' AND OLD.overdue_on IS NOT NULL THEN 1 ELSE 0 END
    WHERE org_id = OLD.issuer_id;
    INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
    SELECT NEW.issuer_id, 0, 0, 0, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM issuer_disclosures WHERE org_id = NEW.issuer_id);
    UPDATE issuer_disclosures SET
        outstanding_fen = outstanding_fen + CASE WHEN NEW.status IN ('active', 'overdue') THEN NEW.face_fen - NEW.paid_fen ELSE 0 END,
        outstanding_count = outstanding_count + CASE WHEN NEW.status IN ('active', 'overdue') THEN 1 ELSE 0 END,
        overdue_fen = overdue_fen + CASE WHEN NEW.status = 'overdue' THEN NEW.face_fen - NEW.paid_fen ELSE 0 END,
        overdue_count = overdue_count + CASE WHEN NEW.status = 'overdue' THEN 1 ELSE 0 END,
        on_time_count = on_time_count + CASE WHEN NEW.status = 'settled' AND NEW.overdue_on IS NULL THEN 1 ELSE 0 END,
        late_count = late_count + CASE WHEN NEW.status = 'settled' AND NEW.overdue_on IS NOT NULL THEN 1 ELSE 0 END
    WHERE org_id = NEW.issuer_id;
END
-- split
CREATE TRIGGER receivables_disclosures_delete AFTER DELETE ON receivables BEGIN
    INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
    SELECT OLD.issuer_id, 0, 0, 0, 0, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM issuer_disclosures WHERE org_id = OLD.issuer_id);
    UPDATE issuer_disclosures SET
        outstanding_fen = outstanding_fen - CASE WHEN OLD.status IN ('active', 'overdue') THEN OLD.face_fen - OLD.paid_fen ELSE 0 END,
        outstanding_count = outstanding_count - CASE WHEN OLD.status IN ('active', 'overdue') THEN 1 ELSE 0 END,
        overdue_fen = overdue_fen - CASE WHEN OLD.status = 'overdue' THEN OLD.face_fen - OLD.paid_fen ELSE 0 END,
        overdue_count = overdue_count - CASE WHEN OLD.status = 'overdue' THEN 1 ELSE 0 END,
        on_time_count = on_time_count - CASE WHEN OLD.status = 'settled' AND OLD.overdue_on IS NULL THEN 1 ELSE 0 END,
        late_count = late_count - CASE WHEN OLD.status = 'settled' AND OLD.overdue_on IS NOT NULL THEN 1 ELSE 0 END
    WHERE org_id = OLD.issuer_id;
END
