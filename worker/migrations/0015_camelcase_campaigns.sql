-- The admin API speaks camelCase throughout: campaign definitions stored in snake_case
-- (delay_ms, holdout_percent, …) are rewritten once, here, so every reader (campaigns/definition.ts
-- and the SQL that reads `$.attributionDays`) sees one shape, with no second spelling to keep alive.
-- json_patch is an RFC 7396 merge: a null member removes a key, an array replaces the old one.
UPDATE campaigns SET definition = json_patch(definition, json_object(
  'holdout_percent', NULL, 'holdoutPercent', definition -> '$.holdout_percent',
  'attribution_days', NULL, 'attributionDays', definition -> '$.attribution_days',
  'quiet_hours', NULL, 'quietHours', definition -> '$.quiet_hours',
  'frequency_cap', NULL, 'frequencyCap', definition -> '$.frequency_cap',
  'steps', (
    SELECT json_group_array(json_patch(s.value, json_object(
      'delay_ms', NULL, 'delayMs', s.value -> '$.delay_ms',
      'coupon', CASE WHEN s.value -> '$.coupon' IS NULL THEN NULL ELSE json_object(
        'promotion_id', NULL, 'promotionId', s.value -> '$.coupon.promotion_id',
        'expires_days', NULL, 'expiresDays', s.value -> '$.coupon.expires_days') END)))
    FROM json_each(definition, '$.steps') AS s)))
WHERE json_type(definition, '$.holdout_percent') IS NOT NULL;
