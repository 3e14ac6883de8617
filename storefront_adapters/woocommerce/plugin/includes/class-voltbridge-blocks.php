<?php
/**
 * The gateway in the Cart and Checkout blocks (the default checkout of new stores since WooCommerce 8.3).
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;

/**
 * The blocks integration: registers assets/js/blocks.js, which calls registerPaymentMethod with the title,
 * description and icon handed over here. Payment itself goes through WC_Gateway_Voltbridge::process_payment,
 * as with the classic checkout (the Store API calls it for the chosen method).
 */
final class Voltbridge_Blocks_Payment_Method extends AbstractPaymentMethodType {

	const SCRIPT = 'voltbridge-blocks';

	/** @var string The gateway id, also the name the script registers. */
	protected $name = 'voltbridge';

	/** @var WC_Gateway_Voltbridge|null */
	private $gateway;

	/**
	 * Loads the gateway's saved settings.
	 */
	public function initialize() {
		$this->settings = get_option( 'woocommerce_voltbridge_settings', array() );
		$this->settings = is_array( $this->settings ) ? $this->settings : array();
	}

	/**
	 * Offered when the gateway is: enabled, and the store's currency is one the gateway prices.
	 *
	 * @return bool
	 */
	public function is_active() {
		return $this->gateway()->is_available();
	}

	/**
	 * The script that registers the payment method, with its dependencies and translations.
	 *
	 * @return string[]
	 */
	public function get_payment_method_script_handles() {
		wp_register_script(
			self::SCRIPT,
			plugins_url( 'assets/js/blocks.js', VOLTBRIDGE_WC_FILE ),
			array( 'wc-blocks-registry', 'wc-settings', 'wp-element', 'wp-html-entities', 'wp-i18n' ),
			VOLTBRIDGE_WC_VERSION,
			true
		);
		wp_set_script_translations( self::SCRIPT, 'voltbridge-woocommerce', plugin_dir_path( VOLTBRIDGE_WC_FILE ) . 'languages' );
		return array( self::SCRIPT );
	}

	/**
	 * What the script reads with getSetting( 'voltbridge_data' ).
	 *
	 * @return array
	 */
	public function get_payment_method_data() {
		$gateway = $this->gateway();
		return array(
			'title'       => $gateway->title,
			'description' => $gateway->description,
			'icon'        => plugins_url( 'assets/images/voltbridge.svg', VOLTBRIDGE_WC_FILE ),
			'supports'    => array_values( $gateway->supports ),
		);
	}

	/**
	 * The classic gateway, as WooCommerce instantiated it (its title and description are the merchant's).
	 *
	 * @return WC_Gateway_Voltbridge
	 */
	private function gateway() {
		if ( null === $this->gateway ) {
			$gateways      = WC()->payment_gateways()->payment_gateways();
			$this->gateway = isset( $gateways['voltbridge'] ) ? $gateways['voltbridge'] : new WC_Gateway_Voltbridge();
		}
		return $this->gateway;
	}
}
