-- Personal offers (issue 18). A coupon code may be bound to one product or one category: the
-- pricing engine then applies its promotion to those cart lines only (promotions/engine.ts), so
-- "10% off the speaker you looked at" is the code, not a second promotion per product.
ALTER TABLE coupons ADD COLUMN product_id TEXT;
ALTER TABLE coupons ADD COLUMN category TEXT;
-- The sizes a merchant's product comes in (JSON array of short strings, NULL = not sized): the
-- loyalty mail's showcase shows products in the size a contact's `size` trait names.
ALTER TABLE products ADD COLUMN sizes TEXT;
