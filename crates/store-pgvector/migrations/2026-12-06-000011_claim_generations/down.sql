DROP SEQUENCE claim_generations;
